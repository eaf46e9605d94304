import { execa } from 'execa';
import { createNutLab } from '../test/fixtures/nutLab.js';
const lab = await createNutLab({ upses: [{ name: 'ups1' }, { name: 'ups2' }] });
const p = execa('node', ['--import', 'tsx', 'src/cli.ts', 'run'], {
  cwd: '/work/main', env: { ...lab.env, NUT_USER: 'root', LOG_LEVEL: 'debug' }, reject: false, all: true, timeout: 8000,
});
const r = await p;
console.log(r.all);
console.log('exit', r.exitCode, r.signal);
await lab.stop();
