import { Command } from 'commander';
import { registerDemo } from './commands/demo';
import { registerStack } from './commands/stack';
import { registerStart } from './commands/start';
import { registerStatus } from './commands/status';
import { registerTrain } from './commands/train';
import { registerSelect } from './commands/select';
import { registerEmbed } from './commands/embed';
import { registerRun } from './commands/run';
import { registerExperiment } from './commands/experiment';
import { registerSchedule } from './commands/schedule';
import { registerCopyDetector } from './commands/copy-detector';
import { registerBuildSearchKernel } from './commands/build-search-kernel';

const program = new Command('sept').description('septflow: task-specific visual pre-training (SEPT) as durable Temporal workflows');
registerDemo(program);
registerRun(program);
registerExperiment(program);
registerStack(program);
registerStart(program);
registerStatus(program);
registerTrain(program);
registerSelect(program);
registerEmbed(program);
registerSchedule(program);
registerCopyDetector(program);
registerBuildSearchKernel(program);

program.parseAsync(process.argv).then(
  () => process.exit(0),
  (err: Error) => {
    console.error(`sept: ${err.message}`);
    process.exit(1);
  },
);
