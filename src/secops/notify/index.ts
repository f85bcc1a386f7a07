/** Notification of users, all at once (issue 13 item 4): contacts, templates, channels, notifier. */
export * from './types.js';
export { notifyMigrations, type NotifyTables } from './tables.js';
export { ContactRegistry, validateContact, newWebhookSecret, webhookSecretKey, channelNames, type ContactFilter } from './contacts.js';
export { registerTemplate, noticeTemplate, renderNotice, noticeFor, checkNoticeData, vulnerabilityTemplate, vulnerabilityNoticeSchema, type NoticeTemplate, type VulnerabilityNoticeData } from './templates.js';
export { Notifier, listDeliveries, type NotifierOptions, type NotifyResult, type Backoff } from './notifier.js';
export type { NoticeChannel, NoticeMessage } from './channels/channel.js';
export { SmtpChannel, type SmtpChannelOptions } from './channels/smtp.js';
export { WebhookChannel, signWebhook, verifyWebhook, type WebhookChannelOptions, type WebhookNoticeBody } from './channels/webhook.js';
export type { SendOutcome } from './channels/channel.js';
export { GatewayNoticeBoard, GatewayChannel, gatewayNoticeRoutes, NOTICE_FETCH_PATH, NOTICE_ACK_PATH, type GatewayNoticeWire } from './gateway-board.js';
export { notifyConfigSchema, buildChannels, createNotifier, type NotifyConfig, type NotifyConfigInput } from './config.js';
