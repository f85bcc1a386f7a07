/**
 * The lower-cased text a resource is found by. Stored in its own column because LIKE is
 * case-insensitive on SQLite (ASCII) but not on PostgreSQL: one lower-cased column and a
 * lower-cased pattern behave the same on both.
 */
export function resourceSearchText(r: {
  id: string; name: string; class: string; site_id: string; gateway_id: string | null;
  maker_code: string | null; product_code: string | null; serial_number: string | null;
  firmware_version: string | null; installation_location: string | null;
}): string {
  return [r.id, r.name, r.class, r.site_id, r.gateway_id, r.maker_code, r.product_code, r.serial_number, r.firmware_version, r.installation_location]
    .filter((x): x is string => typeof x === 'string' && x !== '')
    .join(' ')
    .toLowerCase();
}

/** A LIKE pattern that matches `text` literally anywhere (escape character `\`). */
export function containsPattern(text: string): string {
  return `%${text.toLowerCase().replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}
