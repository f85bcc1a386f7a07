/**
 * Device object super class (APPENDIX Detailed Requirements for ECHONET Device Objects,
 * Release R, Chapter 2): properties every device object has.
 */
import {
  appendixRelease, ascii, enumeration, identificationNumber, installationLocation, milliKilowattHours, onOff, propertyMap,
  rawBytes, unsigned, wattsUnsigned,
} from '../datatypes.js';
import { prop } from './types.js';

export const faultStatus = enumeration({ faultOccurred: 0x41, noFault: 0x42 });

export const superclassProps = {
  operationStatus: prop(0x80, 'operationStatus', '動作状態', onOff, 'GSA', true),
  /** One byte location code, or 0xFF "not set", or the 17-byte position form; nothing else. */
  installationLocation: prop(0x81, 'installationLocation', '設置場所', installationLocation, 'GSA', true),
  standardVersion: prop(0x82, 'standardVersion', '規格Version情報', appendixRelease, 'G', true),
  identificationNumber: prop(0x83, 'identificationNumber', '識別番号', identificationNumber, 'G'),
  instantaneousPower: prop(0x84, 'instantaneousPower', '瞬時消費電力計測値', wattsUnsigned(2, 65533), 'G'),
  cumulativePower: prop(0x85, 'cumulativePower', '積算消費電力量計測値', milliKilowattHours(), 'G'),
  faultStatus: prop(0x88, 'faultStatus', '異常発生状態', faultStatus, 'GA', true),
  makerCode: prop(0x8a, 'makerCode', 'メーカコード', unsigned(3, { min: 0, max: 0xffffff }), 'G', true),
  productCode: prop(0x8c, 'productCode', '商品コード', ascii(12), 'G'),
  productionNumber: prop(0x8d, 'productionNumber', '製造番号', ascii(12), 'G'),
  statusAnnouncementMap: prop(0x9d, 'statusAnnouncementMap', '状変アナウンスプロパティマップ', propertyMap, 'G', true),
  setMap: prop(0x9e, 'setMap', 'Setプロパティマップ', propertyMap, 'G', true),
  getMap: prop(0x9f, 'getMap', 'Getプロパティマップ', propertyMap, 'G', true),
};
