"""The Node program that runs a JavaScript answer against its examples, inside the sandbox.

js_checks.py fills in `__PLAN__` (the code, the examples, the time budgets).
The answer runs in a `vm` context of its own, so each example can have a
timeout (`vm`'s `timeout` stops even a busy loop) and one failure cannot stop
the rest; its `console` is captured, `process.exit` throws, `require.main` is
its module. Values cross no realm: expected values are evaluated in the
answer's context too, and compared by `same` (numbers to 1e-6 relative).
It prints one marked JSON line (run_plan.read_report), preceded by a newline
in case the answer wrote a partial line to stdout itself.
"""

HARNESS = r"""
'use strict';
const vm = require('vm'), util = require('util'), fs = require('fs'), nodeAssert = require('assert');
const PLAN = __PLAN__;
const results = new Map(), dynamic = [];
let printed = [], consoleFailed = false, current = null;
class Unsupported extends Error {}
const NOTHING = Symbol('nothing');

function report(error = '', missing = '') {
  let passed = 0, total = 0;
  const failures = [];
  const tally = (text, why) => { total++; if (why) failures.push(text.slice(0, 100) + ': ' + why); else passed++; };
  PLAN.cases.forEach((c, i) => { if (c.counts && results.has(i) && results.get(i) !== null) tally(c.text, results.get(i)); });
  for (const d of dynamic) tally(d.text, d.why);
  fs.writeSync(1, '\n' + PLAN.marker + JSON.stringify({passed, total, error, failures: failures.slice(0, 5), missing}) + '\n');
  process.exit(0);
}
const isTimeout = (e) => e && e.code === 'ERR_SCRIPT_EXECUTION_TIMEOUT';
const show = (v) => util.inspect(v, {depth: 4, breakLength: Infinity}).slice(0, 80);
const raised = (e) => {
  if (e === null || typeof e !== 'object') return 'threw ' + show(e);
  return 'raised ' + (e.name || 'Error') + (e.message ? ': ' + String(e.message).split('\n')[0].slice(0, 80) : '');
};
const squash = (s) => String(s).replace(/\s+/g, '').replace(/'/g, '"');

const sandboxModule = {exports: {}};
const sandboxRequire = Object.assign((id) => require(id), {main: sandboxModule, resolve: require.resolve});
const sandboxConsole = {};
for (const name of ['log', 'info', 'warn', 'error', 'debug', 'trace', 'dir', 'table']) {
  sandboxConsole[name] = (...args) => { printed.push(util.format(...args)); if (printed.length > 1000) printed = printed.slice(-100); };
}
sandboxConsole.assert = (condition, ...said) => { if (!condition) { consoleFailed = true; } };
const sandboxProcess = new Proxy(process, {get(target, key) {
  if (key === 'exit' || key === 'abort' || key === 'reallyExit' || key === 'kill') return () => { throw new Error('process.' + String(key) + '() called'); };
  const value = Reflect.get(target, key);
  return typeof value === 'function' ? value.bind(target) : value;
}});
const hooks = {before: []};
function runTest(name, fn) {
  if (typeof fn !== 'function') return;
  consoleFailed = false;
  let why = '';
  try {
    for (const hook of hooks.before) hook();
    const result = fn();
    if (result && typeof result.then === 'function') return;  // asynchronous: not judged
    if (consoleFailed) why = 'console.assert failed';
  } catch (e) {
    if (e instanceof Unsupported) return;
    why = raised(e);
  }
  dynamic.push({text: 'test ' + JSON.stringify(String(name)), why});
}
const test = Object.assign(runTest, {only: runTest, skip: () => {}, todo: () => {}});
const describe = Object.assign((name, fn) => { if (typeof fn === 'function') fn(); }, {skip: () => {}});
describe.only = describe;

const context = vm.createContext({
  console: sandboxConsole, require: sandboxRequire, module: sandboxModule, exports: sandboxModule.exports,
  process: sandboxProcess, Buffer, setTimeout, clearTimeout, setInterval, clearInterval, setImmediate,
  queueMicrotask, structuredClone, TextEncoder, TextDecoder, URL, assert: nodeAssert, test, it: test, describe,
  beforeEach: (fn) => hooks.before.push(fn), afterEach: () => {}, beforeAll: (fn) => fn(), afterAll: () => {},
});
const contextObject = vm.runInContext('Object.prototype', context);

function same(a, b, depth = 0) {
  if (typeof a === 'number' && typeof b === 'number') {
    return a === b || (a !== a && b !== b) || Math.abs(a - b) <= 1e-9 + 1e-6 * Math.abs(b);
  }
  if (a === b) return true;
  if (depth > 60 || typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, k) => same(x, b[k], depth + 1));
  }
  if (util.isDeepStrictEqual(a, b)) return true;
  const plain = (o) => [null, contextObject].includes(Object.getPrototypeOf(o));
  if (!plain(a) || !plain(b)) return util.inspect(a, {depth: 8}) === util.inspect(b, {depth: 8});
  const ka = Object.keys(a), kb = Object.keys(b);
  return ka.length === kb.length && ka.every((k) => Object.prototype.hasOwnProperty.call(b, k) && same(a[k], b[k], depth + 1));
}

const MATCHERS = {
  toBe: (a, b) => Object.is(a, b), toEqual: same, toStrictEqual: same, toBeTruthy: (a) => !!a, toBeFalsy: (a) => !a,
  toBeNull: (a) => a === null, toBeUndefined: (a) => a === undefined, toBeDefined: (a) => a !== undefined,
  toBeNaN: (a) => Number.isNaN(a), toContain: (a, b) => a != null && a.includes(b),
  toContainEqual: (a, b) => a != null && [...a].some((x) => same(x, b)), toHaveLength: (a, n) => a != null && a.length === n,
  toBeCloseTo: (a, b, digits = 2) => Math.abs(a - b) < 10 ** -digits / 2, toBeGreaterThan: (a, b) => a > b,
  toBeGreaterThanOrEqual: (a, b) => a >= b, toBeLessThan: (a, b) => a < b, toBeLessThanOrEqual: (a, b) => a <= b,
  toMatch: (a, re) => (typeof re === 'string' ? String(a).includes(re) : re.test(a)),
  toThrow: (fn) => { try { fn(); return false; } catch (e) { return true; } },
};
function expect(actual) {
  const matchers = (negate) => new Proxy({}, {get(_, name) {
    if (name === 'not') return matchers(!negate);
    const matcher = MATCHERS[name];
    if (!matcher) throw new Unsupported('expect().' + String(name));
    return (...args) => {
      if (Boolean(matcher(actual, ...args)) === negate) {
        throw new nodeAssert.AssertionError({message: 'expected ' + show(actual) + (negate ? ' not ' : ' ') + String(name) + ' ' + args.map(show).join(', ')});
      }
    };
  }});
  return matchers(false);
}
context.expect = expect;

function evaluate(source, timeout) {
  return vm.runInContext('(' + source + '\n)', context, {filename: 'example.js', timeout});
}
function compare(c, value, out) {
  let expected, literal = !(c.source === 'console' && c.expected !== '' && !isLiteral(c.expected));
  if (literal) { try { expected = evaluate(c.expected, 200); } catch (e) { literal = false; } }
  if (literal && same(value, expected)) return '';
  if (value === undefined && out.trim()) {  // the function prints its result instead of returning it
    if (squash(out) === squash(c.expected)) return '';
    if (literal) { try { if (same(evaluate(out.trim(), 200), expected)) return ''; } catch (e) {} }
  }
  if (c.source === 'console') {  // the comment says what console.log prints
    const shown = (v) => squash(typeof v === 'string' ? v : util.inspect(v, {depth: null, breakLength: Infinity}));
    if (shown(value) === squash(c.expected) || (literal && shown(value) === shown(expected))) return '';
  }
  return 'got ' + show(value) + ', expected ' + c.expected.slice(0, 80);
}
function isLiteral(text) { try { evaluate(text, 200); return true; } catch (e) { return false; } }

function judge(i, run) {
  const c = PLAN.cases[i], before = printed.length;
  consoleFailed = false;
  current = i;
  let why = '';
  try {
    const value = run();
    if (value !== NOTHING) why = compare(c, value, printed.slice(before).join('\n'));
    else if (consoleFailed) why = 'console.assert failed';
  } catch (e) {
    why = e instanceof Unsupported ? null : raised(e);
  }
  current = null;
  results.set(i, why);
}
context.__hermes = {
  value: (i, thunk) => judge(i, thunk),
  check: (i, thunk) => judge(i, () => { thunk(); return NOTHING; }),
};

let script;
try {
  script = new vm.Script(PLAN.code, {filename: 'answer.js'});
} catch (e) {
  if (PLAN.typescript) report('', 'typescript');
  report('the code fails when loaded: ' + raised(e).replace(/^raised /, ''));
}
try {
  script.runInContext(context, {timeout: PLAN.load_ms});
} catch (e) {
  const missing = e && e.code === 'MODULE_NOT_FOUND' && /Cannot find module '([^']+)'/.exec(String(e.message));
  if (missing) report('the code needs module ' + missing[1], missing[1]);
  const why = isTimeout(e) ? 'timed out' : raised(e);
  if (current !== null) results.set(current, why);
  if (results.size === 0 && dynamic.length === 0) {
    report(isTimeout(e) ? 'the code does not finish loading' : 'the code fails when loaded: ' + why.replace(/^raised /, ''));
  }
  PLAN.cases.forEach((c, i) => { if (c.inline && (c.expr || c.source) && !results.has(i)) results.set(i, 'not reached: the code ' + why); });
}
PLAN.cases.forEach((c, i) => {
  if (c.inline) return;
  const before = printed.length;
  consoleFailed = false;
  try {
    if (c.source && c.source !== 'console') {
      vm.runInContext(c.source, context, {filename: 'example.js', timeout: PLAN.budget_ms});
      results.set(i, consoleFailed ? 'console.assert failed' : '');
    } else {
      const value = evaluate(c.expr, PLAN.budget_ms);
      results.set(i, compare(c, value, printed.slice(before).join('\n')));
    }
  } catch (e) {
    const stack = String((e && e.stack) || '').split('\n').find((line) => line.trim().startsWith('at ')) || '';
    if (e && e.name === 'ReferenceError' && stack.includes('example.js')) return;  // `f(a)` meaning f('a'): prose
    if (e instanceof Unsupported) return;
    results.set(i, isTimeout(e) ? 'timed out' : raised(e));
  }
});
report();
"""
