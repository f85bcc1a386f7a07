/**
 * ECHONET Lite services (ESV), ECHONET Lite Specification Ver.1.14 Part 2 §3.2.5 (the ESV
 * tables): requests 0x6X, responses/notifications 0x7X, "service not available"
 * responses 0x5X.
 */
export const Esv = {
  SetI_SNA: 0x50,
  SetC_SNA: 0x51,
  Get_SNA: 0x52,
  INF_SNA: 0x53,
  SetGet_SNA: 0x5e,
  SetI: 0x60,
  SetC: 0x61,
  Get: 0x62,
  INF_REQ: 0x63,
  SetGet: 0x6e,
  Set_Res: 0x71,
  Get_Res: 0x72,
  INF: 0x73,
  INFC: 0x74,
  INFC_Res: 0x7a,
  SetGet_Res: 0x7e,
} as const;
export type EsvCode = (typeof Esv)[keyof typeof Esv];

const NAMES = new Map<number, string>(Object.entries(Esv).map(([k, v]) => [v, k]));

/** True for the sixteen service codes the standard defines. */
export function isEsv(code: number): code is EsvCode {
  return NAMES.has(code);
}

/** "Get_Res" for 0x72; "0xNN" for an undefined code. */
export function esvName(code: number): string {
  return NAMES.get(code) ?? `0x${code.toString(16).toUpperCase().padStart(2, '0')}`;
}

/** SetGet, SetGet_Res and SetGet_SNA carry two property lists (Part 2 §3.2.5, Figure 3-3). */
export function hasTwoLists(code: number): boolean {
  return code === Esv.SetGet || code === Esv.SetGet_Res || code === Esv.SetGet_SNA;
}

/** Requests a node receives and must serve (0x6X, plus INFC which needs INFC_Res). */
export function isRequest(code: number): boolean {
  return code >= 0x60 && code <= 0x6f;
}

/** Responses and the _SNA refusals (0x5X, 0x71, 0x72, 0x7A, 0x7E). */
export function isResponse(code: number): boolean {
  return (code >= 0x50 && code <= 0x5f) || code === Esv.Set_Res || code === Esv.Get_Res
    || code === Esv.INFC_Res || code === Esv.SetGet_Res;
}

/** For a request ESV, the response on success and the _SNA code on refusal (Part 2 §3.2.5). */
export function responseCodesFor(request: number): { ok: EsvCode | null; sna: EsvCode | null } {
  switch (request) {
    case Esv.SetI: return { ok: null, sna: Esv.SetI_SNA }; // SetI: reply only when refused
    case Esv.SetC: return { ok: Esv.Set_Res, sna: Esv.SetC_SNA };
    case Esv.Get: return { ok: Esv.Get_Res, sna: Esv.Get_SNA };
    case Esv.INF_REQ: return { ok: Esv.INF, sna: Esv.INF_SNA };
    case Esv.SetGet: return { ok: Esv.SetGet_Res, sna: Esv.SetGet_SNA };
    case Esv.INFC: return { ok: Esv.INFC_Res, sna: null };
    default: return { ok: null, sna: null };
  }
}
