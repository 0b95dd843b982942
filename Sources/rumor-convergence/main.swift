// The simulator at scale (bench/README.md): how fast news spreads and failures are seen in clusters of 1,000 to 10,000
// nodes, beside Serf's published convergence model. Run through bench/convergence.py; `--help` for options.
import RumorCore
import RumorSimulator

#if canImport(Glibc)
import Glibc
#endif

struct Options {
    var sizes = [1000, 2000, 5000, 10000]
    var cold = [2000]
    /// Sizes also run with memberlist's tick-only gossip (no eager rounds, no ring successor): the simulator
    /// against Serf's model like for like.
    var tick = [1000, 10000]
    var seed: UInt64 = 1

    init(_ args: [String]) {
        var it = args.makeIterator()
        func list(_ flag: String) -> [Int] {
            guard let value = it.next() else { fail("\(flag) wants comma-separated node counts") }
            let parts = value.split(separator: ",")
            let ns = parts.compactMap { Int($0) }
            guard ns.count == parts.count, ns.allSatisfy({ (2...65536).contains($0) }) else {
                fail("\(flag) wants comma-separated node counts from 2 to 65536, got '\(value)'")
            }
            return ns
        }
        while let arg = it.next() {
            switch arg {
            case "--sizes": sizes = list(arg)
            case "--cold": cold = list(arg)
            case "--tick": tick = list(arg)
            case "--seed":
                guard let v = it.next().flatMap(UInt64.init) else { fail("--seed wants a number") }
                seed = v
            case "--help", "-h":
                print("rumor-convergence [--sizes 1000,2000,5000,10000] [--tick 1000,10000] [--cold 2000] [--seed 1]")
                exit(0)
            default: fail("unknown argument '\(arg)' (try --help)")
            }
        }
    }
}

func fail(_ message: String) -> Never {
    let line = Array("rumor-convergence: \(message)\n".utf8)
    _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
    exit(2)
}

/// Resident memory now and at its peak, in MiB, from /proc/self/status.
func memory() -> (rss: Double, peak: Double) {
    let fd = open("/proc/self/status", O_RDONLY)
    guard fd >= 0 else { return (0, 0) }
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while case let n = read(fd, &chunk, chunk.count), n > 0 { bytes += chunk[..<n] }
    var rss = 0.0, peak = 0.0
    for line in String(decoding: bytes, as: UTF8.self).split(separator: "\n") {
        let kib = Double(line.split(separator: " ").dropFirst().first ?? "") ?? 0
        if line.hasPrefix("VmRSS:") { rss = kib / 1024 }
        if line.hasPrefix("VmHWM:") { peak = kib / 1024 }
    }
    return (rss, peak)
}

/// Serf's convergence model (serf.io/docs/internals/simulator): the fraction of n nodes a message has reached
/// after x gossip rounds is 1 / (1 + (n+1) e^(-fanout/2 x)), with 3 peers a round every 200 ms; its graph steps in
/// whole rounds.
func serfModel(nodes n: Int, fraction f: Double, fanout: Double = 3, interval: Double = 0.2) -> Double {
    let rounds = log(Double(n + 1) * f / (1 - f)) / (fanout / 2)
    return rounds.rounded(.up) * interval
}

/// When each node first did something, and how many have.
final class Tally {
    var times: [Double] = []
    var seen: [Bool]
    init(_ n: Int) { seen = Array(repeating: false, count: n) }
    func mark(_ i: Int, _ t: Double) {
        guard i < seen.count, !seen[i] else { return }
        seen[i] = true
        times.append(t)
    }
    /// Seconds after `start` until `f` of `of` nodes had; nil if they never did.
    func time(_ f: Double, of n: Int, since start: Double) -> Double? {
        let k = Int((f * Double(n)).rounded(.up))
        guard k >= 1, times.count >= k else { return nil }
        return times.sorted()[k - 1] - start
    }
}

func seconds(_ t: Instant) -> Double { Double(t.nanoseconds) / 1e9 }

func fmt(_ x: Double?, _ digits: Int = 2) -> String {
    guard let x else { return "never" }
    var s = String(Int((x * pow(10, Double(digits))).rounded()))
    while digits > 0 && s.count <= digits { s = "0" + s }
    if digits > 0 { s.insert(".", at: s.index(s.endIndex, offsetBy: -digits)) }
    return s
}

func pad(_ s: String, _ w: Int) -> String { String(repeating: " ", count: max(0, w - s.count)) + s }

let clock = ContinuousClock()

/// Wall seconds since `start`.
func elapsed(since start: ContinuousClock.Instant) -> Double {
    let d = clock.now - start
    return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
}

/// A converged cluster of n nodes: an idle window, one user event, one killed node.
func spread(_ n: Int, seed: UInt64, tickOnly: Bool = false) -> [String] {
    let began = clock.now
    var settings = MemberlistSettings.lan
    if tickOnly { (settings.eagerGossip, settings.ringGossip) = (false, false) }
    let sim = Simulation(seed: seed, settings: settings)
    sim.recordsEvents = false
    let event = Tally(n), failed = Tally(n)
    let victim = n - 1
    sim.observer = { i, e, t in
        switch e {
        case .userEvent(let u) where u.name == "spread": event.mark(i, seconds(t))
        case .memberFailed(let m) where m.name == Simulation.name(victim): failed.mark(i, seconds(t))
        default: break
        }
    }
    sim.startConverged(n)
    sim.run(for: .seconds(5))
    let (p0, b0, idle) = (sim.packetsSent, sim.bytesSent, 10.0)
    sim.run(for: .seconds(10))
    let packets = Double(sim.packetsSent - p0) / Double(n) / idle
    let bytes = Double(sim.bytesSent - b0) / Double(n) / idle

    let sent = seconds(sim.now)
    sim.command(.userEvent(name: "spread", payload: [], coalesce: false), to: 0)
    sim.run(until: { _ in event.times.count == n }, limit: .seconds(30), step: .milliseconds(50))
    sim.run(for: .seconds(2))

    let killed = seconds(sim.now)
    sim.kill(victim)
    let others = n - 1
    sim.run(until: { _ in Double(failed.times.count) >= 0.9999 * Double(others) }, limit: .seconds(240), step: .seconds(1))
    let wall = elapsed(since: began)
    let mem = memory()
    return [
        "\(n)", tickOnly ? "tick only" : "converged", fmt(event.time(0.5, of: n, since: sent), 3), fmt(event.time(0.99, of: n, since: sent), 3),
        fmt(event.time(0.9999, of: n, since: sent), 3), fmt(serfModel(nodes: n, fraction: 0.9999), 1),
        fmt(failed.time(0.9999, of: others, since: killed), 1), fmt(packets, 2), fmt(bytes, 0),
        fmt(wall, 0), fmt(mem.rss, 0),
    ]
}

/// n nodes joining one at a time, 10 ms apart, each through a random earlier node; then until every node has
/// every other as an alive member.
func coldJoin(_ n: Int, seed: UInt64) -> [String] {
    let began = clock.now
    let sim = Simulation(seed: seed)
    sim.recordsEvents = false
    var joined = Array(repeating: 0, count: n)
    var complete = 0
    var falseFailures = 0
    sim.observer = { i, e, _ in
        switch e {
        case .memberJoined:
            joined[i] += 1
            if joined[i] == n { complete += 1 }
        case .memberFailed: falseFailures += 1
        default: break
        }
    }
    var pick = SplitMix64(seed: seed ^ 0xc01d)
    for i in 0..<n {
        sim.start(i)
        if i > 0 { sim.join(i, via: Int.random(in: 0..<i, using: &pick)) }
        sim.run(for: .milliseconds(10))
    }
    let started = seconds(sim.now)
    let done = sim.run(until: { _ in complete == n }, limit: .seconds(600), step: .seconds(1))
    let wall = elapsed(since: began)
    let mem = memory()
    return [
        "\(n)", "cold join", done ? fmt(seconds(sim.now) - started, 1) + " s after the last join" : "not converged in 600 s",
        "false failures \(falseFailures)", fmt(wall, 0), fmt(mem.rss, 0),
    ]
}

let options = Options(Array(CommandLine.arguments.dropFirst()))
print("Rumor's simulator, LAN settings, 0.2-2 ms one-way delay, no loss; seed \(options.seed). Times in virtual seconds.")
print("Serf's model: its convergence simulator's formula (fanout 3, 200 ms rounds), to 99.99% of nodes.")
print("converged: Rumor as it ships; tick only: memberlist's gossip (eager_gossip and the ring successor off).\n")
let header = ["nodes", "start", "event 50%", "99%", "99.99%", "serf model", "failed seen", "idle pkt/s", "idle B/s",
    "wall s", "RSS MiB"]
let widths = [6, 10, 10, 6, 7, 11, 12, 11, 9, 7, 8]

/// One table row, printed as soon as it is measured (also when the output is a file).
func printRow(_ cells: [String]) {
    print(zip(cells, widths).map { pad($0, $1) }.joined(separator: " "))
    fflush(nil)
}

printRow(header)
for n in options.sizes {
    printRow(spread(n, seed: options.seed))
    if options.tick.contains(n) { printRow(spread(n, seed: options.seed, tickOnly: true)) }
}
for n in options.cold {
    let row = coldJoin(n, seed: options.seed)
    print("\(pad(row[0], 6)) \(pad(row[1], 10))  all see all alive \(row[2]); \(row[3]); wall \(row[4]) s; RSS \(row[5]) MiB")
    fflush(nil)
}
print("peak RSS \(fmt(memory().peak, 0)) MiB")
