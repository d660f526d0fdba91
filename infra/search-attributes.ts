import { SEPT_SEARCH_ATTRIBUTES } from '../lib/temporal/search-attributes';

/** The CLI's type names (`temporal server start-dev --search-attribute Name=Type`). */
const CLI_TYPE = { KEYWORD: 'Keyword', INT: 'Int', DOUBLE: 'Double' } as const;

/** Custom search attributes that septflow sets on its workflows, registered on every server it starts. */
export const SEARCH_ATTRIBUTES: Record<string, string> = Object.fromEntries(
  Object.values(SEPT_SEARCH_ATTRIBUTES).map((key) => [key.name, CLI_TYPE[key.type as keyof typeof CLI_TYPE]]),
);
