/// One command-line option, declared once: the parser, the help text and the command read it by name.
public struct Option: Sendable {
    public enum Kind: Sendable {
        /// A Go-style bool: `--name` alone is true, `--name=false` sets it explicitly; it never takes the next word.
        case flag
        /// Takes a value (`--name v` or `--name=v`); given twice, the last wins, as with Go's flag package.
        case value(String)
        /// Takes a value and may be repeated; every value is kept, in order.
        case repeated(String)
    }

    public var name: String
    public var kind: Kind
    public var help: String

    public static func flag(_ name: String, _ help: String) -> Option { Option(name: name, kind: .flag, help: help) }

    public static func value(_ name: String, _ valueName: String, _ help: String) -> Option {
        Option(name: name, kind: .value(valueName), help: help)
    }

    public static func repeated(_ name: String, _ valueName: String, _ help: String) -> Option {
        Option(name: name, kind: .repeated(valueName), help: help)
    }

    var takesValue: Bool {
        if case .flag = kind { return false }
        return true
    }
}

/// A command line that cannot be run as given; the message names the offending word.
public struct UsageError: Error, CustomStringConvertible, Sendable, Equatable {
    public var description: String

    public init(_ description: String) { self.description = description }
}

/// Ends a command with this exit status after it has printed what went wrong.
public struct ExitCode: Error, Sendable, Equatable {
    public var status: Int32

    public init(_ status: Int32) { self.status = status }

    public static let success = ExitCode(0)
    public static let failure = ExitCode(1)
}
