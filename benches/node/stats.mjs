export { percentiles } from './stats.cjs'
