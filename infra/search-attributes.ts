/** Custom search attributes that septflow sets on its workflows, registered on every server it starts. */
export const SEARCH_ATTRIBUTES = {
  SeptRunName: 'Keyword',
  SeptStage: 'Keyword',
  SeptSubsetSize: 'Int',
  SeptTop1: 'Double',
} as const;
