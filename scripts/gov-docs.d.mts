export const START: string;
export const END: string;
export function renderGovRules(rules: unknown[]): string;
export function withGovRules(page: string, rules: unknown[]): string;
