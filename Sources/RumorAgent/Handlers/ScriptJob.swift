import RumorSupport
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

/// How a script ended.
public enum Termination: Hashable, Sendable, CustomStringConvertible {
    case exited(Int32)
    case signaled(Int32)
    /// It never ran (no shell, no pipes), or its exit status was lost.
    case failed(String)

    init(_ status: ExitStatus) {
        switch status {
        case .exited(let code): self = .exited(code)
        case .signaled(let signal): self = .signaled(signal)
        case .lost: self = .failed(status.description)
        }
    }

    /// Go's `exec.ExitError` wording, as Serf logs it.
    public var description: String {
        switch self {
        case .exited(let code): ExitStatus.exited(code).description
        case .signaled(let signal): ExitStatus.signaled(signal).description
        case .failed(let why): why
        }
    }
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
