/**
 * Vitest's default reporter, quieter: one line per test file, its TEST_SEED at the end of that line
 * (so any run can be replayed), and for a failed test its error and everything it logged. With the
 * config's `silent: 'passed-only'`, logs of passing tests are dropped; seed lines are kept here.
 */
import type { UserConsoleLog } from 'vitest';
import { DefaultReporter, type TestCase, type TestModule, type TestModuleState } from 'vitest/node';

const seedPattern = /TEST_SEED=\d+/;

export default class QuietReporter extends DefaultReporter {
  /** TEST_SEED=… lines seen per test file, by file path. */
  private readonly seeds = new Map<string, Set<string>>();

  override onUserConsoleLog(log: UserConsoleLog, taskState?: 'passed' | 'failed' | 'skipped' | 'pending'): void {
    const seed = log.content.match(seedPattern)?.[0];
    if (seed && taskState !== 'failed') {
      const file = (log.taskId && this.ctx.state.idMap.get(log.taskId)?.file.filepath) || '';
      if (!this.seeds.has(file)) this.seeds.set(file, new Set());
      this.seeds.get(file)!.add(seed);
    }
    super.onUserConsoleLog(log, taskState);
  }

  /** Passing tests get no line of their own (the default lists slow ones). */
  protected override printTestCase(moduleState: TestModuleState, test: TestCase): void {
    if (moduleState === 'failed' || test.result().state === 'failed') super.printTestCase(moduleState, test);
  }

  /** The file's line, with its seed appended: the first line the default reporter logs for it. */
  protected override printTestModule(testModule: TestModule): void {
    const seeds = this.seeds.get(testModule.moduleId);
    if (!seeds) return super.printTestModule(testModule);
    const log = this.log;
    let first = true;
    this.log = (...messages: unknown[]) => {
      if (first && messages.length) {
        first = false;
        messages[0] = `${String(messages[0])} ${[...seeds].join(' ')}`;
      }
      log.apply(this, messages);
    };
    try {
      super.printTestModule(testModule);
    } finally {
      this.log = log;
    }
  }
}
