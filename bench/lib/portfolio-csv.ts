/**
 * A generated portfolio import file for the benches: `sites` households in Tokyo, one 9.8 kWh /
 * 4–4.5 kW battery each, every site with a name and an address (the personal fields the vault seals).
 */
export function portfolioCsv(sites: number): string {
  return [
    'resource_id,site_id,site_name,tso_area,site_address,pool_id,pool_name,product,program,class,name,capacity_w,capacity_wh,max_charge_w,max_discharge_w',
    ...Array.from({ length: sites }, (_, i) => {
      const n = String(i).padStart(7, '0');
      return `bat-${n},site-${n},Household ${n},tokyo,"${i % 9 + 1}-${i % 30 + 1}-${i % 17 + 1} Setagaya ${n}",tokyo-t2,Tokyo,tertiary2,tepco-simple-dispatch,battery,Battery,5000,9800,4000,4500`;
    }),
  ].join('\n');
}

/** The pool every generated resource is in. */
export const BENCH_POOL = 'tokyo-t2';
