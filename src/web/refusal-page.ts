/**
 * The page a browser gets from an operator console when its certificate is refused (issue 16:
 * "a browser without a client certificate gets an empty reply"). Fixed text in Japanese and
 * English, chosen only by the refusal's code: nothing the peer sent appears in it.
 * How the listener answers with it: security/tls/server.ts (`refusalPage`).
 */
import type { RefusalCode } from '../security/tls/authenticator.js';

interface Hint {
  ja: string;
  en: string;
}

const HINTS: Record<RefusalCode, Hint> = {
  no_certificate: {
    ja: 'ブラウザーがクライアント証明書を提示しませんでした。管理者から受け取った運用者証明書（erab pki issue --p12 で作成した .p12 ファイル）をブラウザーに取り込み、再読み込みしてください。',
    en: 'Your browser presented no client certificate. Import the operator certificate your administrator gave you (the .p12 file made by `erab pki issue --p12`) into the browser, then reload.',
  },
  untrusted_chain: {
    ja: '提示された証明書は、この設備の認証局が発行したものではありません。この設備用の運用者証明書を選んでください。',
    en: 'The certificate presented was not issued by this installation\'s certificate authority. Choose the operator certificate made for this installation.',
  },
  expired: {
    ja: '提示された証明書は有効期限が切れています。管理者に新しい証明書を依頼してください。',
    en: 'The certificate presented has expired. Ask your administrator for a new one.',
  },
  not_yet_valid: {
    ja: '提示された証明書はまだ有効期間に入っていません。端末の時刻を確認してください。',
    en: 'The certificate presented is not valid yet. Check this computer\'s clock.',
  },
  revoked: {
    ja: '提示された証明書は失効しています。管理者に連絡してください。',
    en: 'The certificate presented has been revoked. Contact your administrator.',
  },
  crl_stale: {
    ja: 'この設備の失効リスト（CRL）が古いため、証明書を確認できません。管理者に連絡してください。',
    en: 'This installation\'s revocation list (CRL) is out of date, so no certificate can be checked. Contact your administrator.',
  },
  no_identity: {
    ja: '提示された証明書に運用者の識別子（urn:erab:operator:<名前>）がありません。運用者用の証明書を選んでください。',
    en: 'The certificate presented names no operator (urn:erab:operator:<name>). Choose an operator certificate.',
  },
  not_allow_listed: {
    ja: 'この運用者はこのコンソールの利用者として登録されていません。管理者に登録を依頼してください。',
    en: 'This operator is not on this console\'s list of operators. Ask your administrator to add you.',
  },
  handshake_failed: {
    ja: '接続を確立できませんでした。',
    en: 'The connection could not be established.',
  },
  request_refused: {
    ja: '要求は拒否されました。',
    en: 'The request was refused.',
  },
};

/** The full HTML page for a refusal; every refusal is also in the listener's audit log. */
export function consoleRefusalPage(code: RefusalCode): string {
  const h = HINTS[code] ?? HINTS.request_refused;
  return `<!doctype html>
<html lang="ja"><head><meta charset="utf-8"><title>erab: 証明書が必要です / certificate required</title>
<style>body{font-family:system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem;line-height:1.6}code{background:#eee;padding:0 .2em}</style></head>
<body>
<h1>運用者証明書が必要です</h1>
<p>${h.ja}</p>
<p>拒否の理由コード: <code>${code}</code>（この拒否は監査ログに記録されています）</p>
<hr>
<h1 lang="en">An operator certificate is required</h1>
<p lang="en">${h.en}</p>
<p lang="en">Refusal code: <code>${code}</code> (this refusal is recorded in the audit log).</p>
</body></html>
`;
}
