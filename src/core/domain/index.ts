/** The domain core shared by every layer: device classes and dispatch direction. */
export * from './device-classes.js';
export * from './direction.js';
