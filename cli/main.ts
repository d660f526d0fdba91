import { Command } from 'commander';
import { registerDemo } from './commands/demo';
import { registerStack } from './commands/stack';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';

const program = new Command('sept').description('septflow: task-specific visual pre-training (SEPT) as durable Temporal workflows');
registerDemo(program);
registerStack(program);
registerStart(program);
registerStatus(program);

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`sept: ${err.message}`);
    process.exit(1);
  },
);
