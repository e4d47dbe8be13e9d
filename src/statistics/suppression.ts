/**
 * Small-cell suppression (小さなセルの秘匿) for callers who see figures over all units without
 * reading the cases (auditors, admins). The rule:
 *
 * - a cell's count of 1 or 2 is shown as `<3`; 0 is shown as 0;
 * - every other count, in cells and totals alike, is rounded to the nearest multiple of 5
 *   (3 and 4 become 5), and a total of 1 or 2 is shown as 5 too, never as `<3`.
 *
 * Why the other counts move as well: with exact cells beside a suppressed one, any total computed
 * from the true total alone gives the cell away (a total must then read the same for C+1 and C+2
 * for every C, so it could say nothing), and the same total can be asked without grouping. With
 * every count rounded to base 5, total − visible cells spans at least 9 values centred on a
 * multiple of 5, so a suppressed cell is consistent with both 1 and 2, in one table or across
 * tables of the same data. Figures that are not counts (days to close) are withheld where fewer
 * than 3 cases stand behind them.
 */
export const SUPPRESSION_RULE =
  'Counts of 1 or 2 in a cell are shown as "<3"; every other count, and every total, is rounded to the nearest multiple of 5 ' +
  '(a total of 1 to 4 shows as 5); days to close are shown only where at least 3 closed cases stand behind them.'

export type Published = number | '<3'

const roundTo5 = (n: number) => Math.max(5, Math.round(n / 5) * 5)

/** A count in a cell (a row of a grouped table). */
export function suppressCell(n: number): Published {
  if (n === 0) return 0
  if (n <= 2) return '<3'
  return roundTo5(n)
}

/** A count in a total: never `<3`, so that it does not pin down the suppressed cells under it. */
export function suppressTotal(n: number): Published {
  return n === 0 ? 0 : roundTo5(n)
}
