/** The ECHONET Lite Web API (HTTPS + OAuth 2.0): resources, the device-side handler, the controller-side client. */
export * from './resources.js';
export * from './server.js';
export * from './client.js';
