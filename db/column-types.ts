// zod types for columns the pool's type parsers turn into exact values (db/pool.ts): a NUMERIC
// column arrives as a Decimal, never a JS number, and row schemas say so.
import { z } from 'zod';
import { isDecimal, type Decimal } from '../core/money.ts';

export const decimalColumn = z.custom<Decimal>((value) => isDecimal(value), 'a Decimal (NUMERIC column)');
