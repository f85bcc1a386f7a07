/**
 * Node profile class 0x0EF0 (ECHONET Lite Specification Ver.1.14 Part 2 §6.11.1, profile
 * object super class §6.10.1): identity of the node and the list of the objects it hosts.
 */
import { classList, instanceList, liteVersion, onOff, unsigned } from '../datatypes.js';
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { defineClass, prop } from './types.js';

export const NodeProfile = defineClass(ClassCode.nodeProfile, 'nodeProfile', 'ノードプロファイル', {
  // 0x80 of the node profile: 0x30 booting, 0x31 not booting; Get and announced.
  operationStatus: prop(0x80, 'operationStatus', '動作状態', onOff, 'GA', true),
  versionInformation: prop(0x82, 'versionInformation', 'Version情報', liteVersion, 'G', true),
  identificationNumber: { ...superclassProps.identificationNumber, required: true },
  faultStatus: { ...superclassProps.faultStatus, access: { get: true, set: false, anno: false } },
  makerCode: superclassProps.makerCode,
  productCode: superclassProps.productCode,
  productionNumber: superclassProps.productionNumber,
  statusAnnouncementMap: superclassProps.statusAnnouncementMap,
  setMap: superclassProps.setMap,
  getMap: superclassProps.getMap,
  instanceCount: prop(0xd3, 'instanceCount', '自ノードインスタンス数', unsigned(3, { min: 0, max: 0xffffff }), 'G', true),
  classCount: prop(0xd4, 'classCount', '自ノードクラス数', unsigned(2, { min: 0, max: 0xffff }), 'G', true),
  instanceListNotification: prop(0xd5, 'instanceListNotification', 'インスタンスリスト通知', instanceList, 'A', true),
  instanceList: prop(0xd6, 'instanceList', '自ノードインスタンスリストS', instanceList, 'G', true),
  classList: prop(0xd7, 'classList', '自ノードクラスリストS', classList, 'G', true),
});
