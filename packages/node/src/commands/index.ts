import type { Command } from '../cli/args';
import { demoCommand } from './demo';

/** Every `busi` subcommand, in --help order. A new command is one module here plus one line below. */
export const commands: readonly Command[] = [demoCommand];
