export function renderConfigDocs(schema: unknown): string;
