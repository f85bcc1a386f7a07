/**
 * Controller class 0x05FF (APPENDIX Detailed Requirements for ECHONET Device Objects,
 * Release R, §3.6.x): the HEMS controller hosts this object; only the superclass properties.
 */
import { ClassCode } from '../eoj.js';
import { superclassProps } from './superclass.js';
import { defineClass } from './types.js';

export const HemsController = defineClass(ClassCode.controller, 'controller', 'コントローラ', { ...superclassProps });
