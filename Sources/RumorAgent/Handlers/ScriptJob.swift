import RumorCore

/// One handler run to carry out.
public struct ScriptJob: Sendable {
    public var invocation: ScriptInvocation
    /// Killed (with its whole process group) after this long.
    public var timeout: Duration
    /// A WARN once it runs this long (Serf: 1 s).
    public var slowThreshold: Duration
    public var outputLimit: Int
    /// Called once, on the runner's thread, when the run is over; keep it short.
    public var completion: @Sendable (ScriptResult) -> Void

    public init(invocation: ScriptInvocation, timeout: Duration = .seconds(30), slowThreshold: Duration = .seconds(1),
                outputLimit: Int = OutputRing.serfCapacity,
                completion: @escaping @Sendable (ScriptResult) -> Void = { _ in }) {
        self.invocation = invocation
        self.timeout = timeout
        self.slowThreshold = slowThreshold
        self.outputLimit = outputLimit
        self.completion = completion
    }

    var script: String { invocation.script }
    var eventName: String { invocation.variables.first { $0.name == "SERF_EVENT" }?.value ?? "?" }
}

/// What a run left behind.
public struct ScriptResult: Sendable {
    public var termination: Termination
    /// The last `outputLimit` bytes of stdout and stderr together.
    public var output: [UInt8]
    /// All bytes the script wrote, kept or not.
    public var outputTotal: Int
    public var timedOut: Bool
    public var duration: Duration

    /// Exit status 0 within the timeout: the condition for a query reply.
    public var succeeded: Bool { termination == .exited(0) && !timedOut }

    static func notRun(_ why: String) -> ScriptResult {
        ScriptResult(
            termination: .failed("not run: \(why)"), output: [], outputTotal: 0, timedOut: false, duration: .zero)
    }
}

/// Durations as Go prints them in Serf's logs ("1s", "1.5s", "250ms").
func goDuration(_ d: Duration) -> String {
    let ns = d.nanoseconds
    if ns % 1_000_000_000 == 0 { return "\(ns / 1_000_000_000)s" }
    if ns >= 1_000_000_000 {
        var frac = String(ns % 1_000_000_000)
        frac = String(repeating: "0", count: 9 - frac.count) + frac
        while frac.hasSuffix("0") { frac.removeLast() }
        return "\(ns / 1_000_000_000).\(frac)s"
    }
    if ns % 1_000_000 == 0 { return "\(ns / 1_000_000)ms" }
    return "\(ns)ns"
}

/// Output bytes as one log-safe line: control characters escaped, invalid UTF-8 replaced.
func logSafe(_ bytes: some Collection<UInt8>) -> String {
    var out = ""
    for scalar in String(decoding: bytes, as: UTF8.self).unicodeScalars {
        switch scalar {
        case "\n": out += "\\n"
        case "\t": out += "\\t"
        case "\r": out += "\\r"
        case "\\": out += "\\\\"
        case _ where scalar.value < 0x20 || scalar.value == 0x7f:
            out += "\\x" + (scalar.value < 0x10 ? "0" : "") + String(scalar.value, radix: 16)
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out
}
