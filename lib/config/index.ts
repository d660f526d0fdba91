export * from './schema';
export * from './sources';
export * from './validate';
