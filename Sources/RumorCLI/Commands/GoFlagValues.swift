import ArgumentParser
import RumorAgent

/// A Go `flag` bool value (`strconv.ParseBool`): 1, t, T, TRUE, true, True and their false counterparts, so
/// `-coalesce=false` and `-coalesce=F` work as with serf.
struct GoBool: ExpressibleByArgument, Sendable {
    var value: Bool

    init(_ value: Bool) { self.value = value }

    init?(argument: String) {
        switch argument {
        case "1", "t", "T", "TRUE", "true", "True": value = true
        case "0", "f", "F", "FALSE", "false", "False": value = false
        default: return nil
        }
    }

    var defaultValueDescription: String { value ? "true" : "false" }
}

/// A Go duration (`500ms`, `15s`, `1m30s`), as serf's `-timeout` takes.
struct GoDuration: ExpressibleByArgument, Sendable {
    var value: Duration

    init(_ value: Duration) { self.value = value }

    init?(argument: String) {
        guard let d = parseGoDuration(argument) else { return nil }
        value = d
    }

    var defaultValueDescription: String { value == .zero ? "0 (the agent's default)" : "\(value)" }
}

/// serf's complaint about a command line, then exit 1 (serf follows it with the help text; we leave that to
/// `--help`).
func usageError(_ message: String) -> ExitCode {
    Console.error(message)
    return ExitCode.failure
}
