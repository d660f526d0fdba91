export { census } from './census';
