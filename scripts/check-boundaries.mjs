// Import boundaries: reads dependency-cruiser's JSON (with the rules of .dependency-cruiser.cjs
// applied) from stdin, prints every rule violation, and checks the graph of modules, not just of
// files: an import from module A to module B while B (through any of its files) imports A is a
// cycle between modules even when no file imports itself back. Exits 1 on any finding.
//   npx depcruise src --config .dependency-cruiser.cjs --output-type json | node scripts/check-boundaries.mjs
// stdin is read as a stream: a synchronous read of a pipe while depcruise still writes it
// crashed Node 24 now and then ("double free or corruption").
const chunks = []
for await (const chunk of process.stdin) chunks.push(chunk)
const cruise = JSON.parse(Buffer.concat(chunks).toString('utf8'))
let failed = false

for (const v of cruise.summary.violations) {
  failed = true
  console.log(`${v.rule.severity} ${v.rule.name}: ${v.from} → ${v.to}`)
}

// The graph of modules: src/<module>/…, each edge with one file import that makes it.
const moduleOf = (path) => /^src\/([^/]+)\//.exec(path)?.[1] ?? null
const edges = new Map()
for (const m of cruise.modules) {
  const from = moduleOf(m.source)
  if (!from || from === 'cli') continue
  for (const d of m.dependencies) {
    const to = moduleOf(d.resolved)
    if (!to || to === from) continue
    if (!edges.has(from)) edges.set(from, new Map())
    if (!edges.get(from).has(to)) edges.get(from).set(to, `${m.source} → ${d.resolved}`)
  }
}

// Strongly connected components (Tarjan): any with more than one module is a cycle.
let index = 0
const indices = new Map()
const low = new Map()
const stack = []
const onStack = new Set()
const components = []
function visit(v) {
  indices.set(v, index)
  low.set(v, index)
  index += 1
  stack.push(v)
  onStack.add(v)
  for (const w of edges.get(v)?.keys() ?? []) {
    if (!indices.has(w)) {
      visit(w)
      low.set(v, Math.min(low.get(v), low.get(w)))
    } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), indices.get(w)))
  }
  if (low.get(v) === indices.get(v)) {
    const component = []
    let w
    do {
      w = stack.pop()
      onStack.delete(w)
      component.push(w)
    } while (w !== v)
    components.push(component)
  }
}
const modules = new Set([...edges.keys(), ...[...edges.values()].flatMap((e) => [...e.keys()])])
for (const m of modules) if (!indices.has(m)) visit(m)

for (const component of components.filter((c) => c.length > 1)) {
  failed = true
  console.log(`error no-module-cycles: ${component.sort().join(' ↔ ')}`)
  for (const from of component) {
    for (const [to, via] of edges.get(from) ?? []) if (component.includes(to)) console.log(`  ${from} → ${to}: ${via}`)
  }
}

const count = [...edges.values()].reduce((n, e) => n + e.size, 0)
console.log(failed ? 'import boundaries broken' : `import boundaries hold: ${modules.size} modules, ${count} imports between them, no cycle`)
process.exit(failed ? 1 : 0)
