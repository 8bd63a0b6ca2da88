"""Canonical JavaScript solutions to 60 HumanEval problems, hand-translated from the Python ones.

Each is the body of `function ENTRY_POINT(PARAMS) {`, the parameters being the
Python signature's. Python's None is `null` here; tuples are arrays. Used by
evals/make_js_set.py, which checks every one against its hidden tests.
"""

SOLUTIONS: dict[int, str] = {
    0: """
  for (let i = 0; i < numbers.length; i++) {
    for (let j = 0; j < numbers.length; j++) {
      if (i !== j && Math.abs(numbers[i] - numbers[j]) < threshold) {
        return true;
      }
    }
  }
  return false;
""",
    3: """
  let balance = 0;
  for (const op of operations) {
    balance += op;
    if (balance < 0) {
      return true;
    }
  }
  return false;
""",
    5: """
  const result = [];
  for (let i = 0; i < numbers.length; i++) {
    if (i > 0) {
      result.push(delimeter);
    }
    result.push(numbers[i]);
  }
  return result;
""",
    7: """
  return strings.filter((s) => s.includes(substring));
""",
    9: """
  const result = [];
  let running = null;
  for (const n of numbers) {
    running = running === null ? n : Math.max(running, n);
    result.push(running);
  }
  return result;
""",
    12: """
  if (strings.length === 0) {
    return null;
  }
  let best = strings[0];
  for (const s of strings) {
    if (s.length > best.length) {
      best = s;
    }
  }
  return best;
""",
    13: """
  while (b !== 0) {
    [a, b] = [b, a % b];
  }
  return a;
""",
    15: """
  const parts = [];
  for (let i = 0; i <= n; i++) {
    parts.push(String(i));
  }
  return parts.join(' ');
""",
    18: """
  let times = 0;
  for (let i = 0; i <= string.length - substring.length; i++) {
    if (string.slice(i, i + substring.length) === substring) {
      times += 1;
    }
  }
  return times;
""",
    23: """
  return string.length;
""",
    24: """
  for (let i = n - 1; i > 0; i--) {
    if (n % i === 0) {
      return i;
    }
  }
  return 1;
""",
    26: """
  const counts = new Map();
  for (const n of numbers) {
    counts.set(n, (counts.get(n) || 0) + 1);
  }
  return numbers.filter((n) => counts.get(n) <= 1);
""",
    27: """
  let out = '';
  for (const ch of string) {
    out += ch === ch.toUpperCase() ? ch.toLowerCase() : ch.toUpperCase();
  }
  return out;
""",
    28: """
  return strings.join('');
""",
    30: """
  return l.filter((e) => e > 0);
""",
    34: """
  return [...new Set(l)].sort((a, b) => a - b);
""",
    35: """
  let m = l[0];
  for (const e of l) {
    if (e > m) {
      m = e;
    }
  }
  return m;
""",
    42: """
  return l.map((e) => e + 1);
""",
    43: """
  for (let i = 0; i < l.length; i++) {
    for (let j = i + 1; j < l.length; j++) {
      if (l[i] + l[j] === 0) {
        return true;
      }
    }
  }
  return false;
""",
    46: """
  const results = [0, 0, 2, 0];
  if (n < 4) {
    return results[n];
  }
  for (let i = 4; i <= n; i++) {
    results.push(results[3] + results[2] + results[1] + results[0]);
    results.shift();
  }
  return results[3];
""",
    47: """
  const s = [...l].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  if (s.length % 2 === 1) {
    return s[mid];
  }
  return (s[mid - 1] + s[mid]) / 2;
""",
    48: """
  for (let i = 0; i < text.length; i++) {
    if (text[i] !== text[text.length - 1 - i]) {
      return false;
    }
  }
  return true;
""",
    49: """
  let ret = 1;
  for (let i = 0; i < n; i++) {
    ret = (2 * ret) % p;
  }
  return ret;
""",
    51: """
  return [...text].filter((c) => !'aeiou'.includes(c.toLowerCase())).join('');
""",
    52: """
  for (const e of l) {
    if (e >= t) {
      return false;
    }
  }
  return true;
""",
    53: """
  return x + y;
""",
    55: """
  if (n === 0) {
    return 0;
  }
  if (n === 1) {
    return 1;
  }
  return fib(n - 1) + fib(n - 2);
""",
    57: """
  let up = true;
  let down = true;
  for (let i = 1; i < l.length; i++) {
    if (l[i] < l[i - 1]) {
      up = false;
    }
    if (l[i] > l[i - 1]) {
      down = false;
    }
  }
  return up || down;
""",
    58: """
  const inSecond = new Set(l2);
  return [...new Set(l1.filter((e) => inSecond.has(e)))].sort((a, b) => a - b);
""",
    59: """
  let largest = 1;
  let k = n;
  for (let f = 2; f * f <= k; f++) {
    while (k % f === 0) {
      largest = f;
      k = k / f;
    }
  }
  if (k > 1) {
    largest = Math.max(largest, k);
  }
  return largest;
""",
    60: """
  let total = 0;
  for (let i = 1; i <= n; i++) {
    total += i;
  }
  return total;
""",
    62: """
  return xs.map((x, i) => i * x).slice(1);
""",
    63: """
  const values = [0, 0, 1];
  for (let i = 3; i <= n; i++) {
    values.push(values[i - 1] + values[i - 2] + values[i - 3]);
  }
  return values[n];
""",
    64: """
  let count = 0;
  for (const c of s) {
    if ('aeiouAEIOU'.includes(c)) {
      count += 1;
    }
  }
  if (s.length > 0 && (s[s.length - 1] === 'y' || s[s.length - 1] === 'Y')) {
    count += 1;
  }
  return count;
""",
    66: """
  let total = 0;
  for (const c of s) {
    if (c >= 'A' && c <= 'Z') {
      total += c.charCodeAt(0);
    }
  }
  return total;
""",
    68: """
  let best = -1;
  for (let i = 0; i < arr.length; i++) {
    if (arr[i] % 2 === 0 && (best === -1 || arr[i] < arr[best])) {
      best = i;
    }
  }
  return best === -1 ? [] : [arr[best], best];
""",
    69: """
  const freq = new Array(Math.max(...lst) + 1).fill(0);
  for (const i of lst) {
    freq[i] += 1;
  }
  let ans = -1;
  for (let i = 1; i < freq.length; i++) {
    if (freq[i] >= i) {
      ans = i;
    }
  }
  return ans;
""",
    70: """
  const rest = [...lst].sort((a, b) => a - b);
  const res = [];
  let low = true;
  while (rest.length > 0) {
    res.push(low ? rest.shift() : rest.pop());
    low = !low;
  }
  return res;
""",
    72: """
  const total = q.reduce((a, b) => a + b, 0);
  if (total > w) {
    return false;
  }
  for (let i = 0, j = q.length - 1; i < j; i++, j--) {
    if (q[i] !== q[j]) {
      return false;
    }
  }
  return true;
""",
    73: """
  let ans = 0;
  for (let i = 0; i < Math.floor(arr.length / 2); i++) {
    if (arr[i] !== arr[arr.length - i - 1]) {
      ans += 1;
    }
  }
  return ans;
""",
    74: """
  const chars = (list) => list.reduce((n, s) => n + s.length, 0);
  return chars(lst1) <= chars(lst2) ? lst1 : lst2;
""",
    80: """
  if (s.length < 3) {
    return false;
  }
  for (let i = 0; i < s.length - 2; i++) {
    if (s[i] === s[i + 1] || s[i + 1] === s[i + 2] || s[i] === s[i + 2]) {
      return false;
    }
  }
  return true;
""",
    82: """
  const l = string.length;
  if (l < 2) {
    return false;
  }
  for (let i = 2; i < l; i++) {
    if (l % i === 0) {
      return false;
    }
  }
  return true;
""",
    85: """
  let total = 0;
  for (let i = 1; i < lst.length; i += 2) {
    if (lst[i] % 2 === 0) {
      total += lst[i];
    }
  }
  return total;
""",
    88: """
  if (array.length === 0) {
    return [];
  }
  const descending = (array[0] + array[array.length - 1]) % 2 === 0;
  return [...array].sort((a, b) => (descending ? b - a : a - b));
""",
    96: """
  const primes = [];
  for (let i = 2; i < n; i++) {
    let prime = true;
    for (let j = 2; j < i; j++) {
      if (i % j === 0) {
        prime = false;
        break;
      }
    }
    if (prime) {
      primes.push(i);
    }
  }
  return primes;
""",
    97: """
  return Math.abs(a % 10) * Math.abs(b % 10);
""",
    98: """
  let count = 0;
  for (let i = 0; i < s.length; i += 2) {
    if ('AEIOU'.includes(s[i])) {
      count += 1;
    }
  }
  return count;
""",
    100: """
  const pile = [];
  for (let i = 0; i < n; i++) {
    pile.push(n + 2 * i);
  }
  return pile;
""",
    104: """
  const odd = x.filter((n) => [...String(n)].every((d) => Number(d) % 2 === 1));
  return odd.sort((a, b) => a - b);
""",
    105: """
  const names = ['One', 'Two', 'Three', 'Four', 'Five', 'Six', 'Seven', 'Eight', 'Nine'];
  return arr
    .filter((n) => n >= 1 && n <= 9)
    .sort((a, b) => b - a)
    .map((n) => names[n - 1]);
""",
    121: """
  let total = 0;
  for (let i = 0; i < lst.length; i += 2) {
    if (lst[i] % 2 === 1) {
      total += lst[i];
    }
  }
  return total;
""",
    128: """
  if (arr.length === 0) {
    return null;
  }
  let sign = 1;
  let total = 0;
  for (const x of arr) {
    if (x === 0) {
      sign = 0;
    } else if (x < 0) {
      sign = -sign;
    }
    total += Math.abs(x);
  }
  return sign * total;
""",
    133: """
  let squared = 0;
  for (const i of lst) {
    squared += Math.ceil(i) ** 2;
  }
  return squared;
""",
    139: """
  let fact = 1;
  let special = 1;
  for (let i = 1; i <= n; i++) {
    fact *= i;
    special *= fact;
  }
  return special;
""",
    150: """
  if (n < 2) {
    return y;
  }
  for (let i = 2; i < n; i++) {
    if (n % i === 0) {
      return y;
    }
  }
  return x;
""",
    152: """
  return game.map((score, i) => Math.abs(score - guess[i]));
""",
    157: """
  return a * a === b * b + c * c || b * b === a * a + c * c || c * c === a * a + b * b;
""",
    159: """
  if (need <= remaining) {
    return [number + need, remaining - need];
  }
  return [number + remaining, 0];
""",
    163: """
  const lower = Math.max(2, Math.min(a, b));
  const upper = Math.min(8, Math.max(a, b));
  const out = [];
  for (let i = lower; i <= upper; i++) {
    if (i % 2 === 0) {
      out.push(i);
    }
  }
  return out;
""",
}
