/** The console line of bench/ready-floor/main.ts that follows its boot line: init's start, in ms. */
export const INIT_LINE = "ready-floor: init started at ";
