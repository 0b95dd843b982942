import RumorSupport
import RumorAgent

/// A command line read against a command's options, accepting both Serf's Go spellings (`-join=ha`,
/// `-tag k=v`) and double-dash ones (`--join ha`). Options and positional words may be interleaved; everything
/// after `--` is positional, so a payload that starts with a dash goes there.
public struct ParsedArguments: Sendable {
    private var values: [String: [String]] = [:]
    public private(set) var positionals: [String] = []
    /// `-h`, `-help` or `--help` was given: the caller prints help instead of running.
    public private(set) var wantsHelp = false

    public init(_ words: [String], options: [Option]) throws(UsageError) {
        let byName = Dictionary(options.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        var i = 0
        while i < words.count {
            let word = words[i]
            i += 1
            if word == "--" {
                positionals += words[i...]
                break
            }
            guard word.count > 1, word.hasPrefix("-") else {
                positionals.append(word)
                continue
            }
            let body = word.dropFirst(word.hasPrefix("--") ? 2 : 1)
            let name = String(body.prefix { $0 != "=" })
            let inline = body.firstIndex(of: "=").map { String(body[body.index(after: $0)...]) }
            if name == "h" || name == "help" {
                wantsHelp = true
                continue
            }
            guard let option = byName[name] else { throw UsageError("unknown option \(JSON.excerpt(word))") }
            if !option.takesValue {
                guard let bool = Self.goBool(inline ?? "true") else {
                    throw UsageError("invalid boolean value \(JSON.excerpt(inline ?? "")) for '--\(name)' (use true or false)")
                }
                values[name, default: []].append(bool ? "true" : "false")
            } else if let inline {
                values[name, default: []].append(inline)
            } else {
                guard i < words.count else { throw UsageError("missing value for '--\(name)'") }
                values[name, default: []].append(words[i])
                i += 1
            }
        }
    }

    /// The option's value (the last one, if it was given more than once), or nil if absent.
    public func value(_ name: String) -> String? { values[name]?.last }

    /// Every value of a repeatable option, in command-line order.
    public func values(_ name: String) -> [String] { values[name] ?? [] }

    public func flag(_ name: String, default defaultValue: Bool = false) -> Bool {
        value(name).map { $0 == "true" } ?? defaultValue
    }

    /// A bool given as a value (`--name false`, `--name=F`), in Go's spellings.
    public func bool(_ name: String) throws(UsageError) -> Bool? {
        guard let text = value(name) else { return nil }
        guard let b = Self.goBool(text) else {
            throw UsageError("invalid value \(JSON.excerpt(text)) for '--\(name)': expected true or false")
        }
        return b
    }

    public func int(_ name: String) throws(UsageError) -> Int? {
        guard let text = value(name) else { return nil }
        guard let n = Int(text) else { throw UsageError("invalid value \(JSON.excerpt(text)) for '--\(name)': expected an integer") }
        return n
    }

    public func duration(_ name: String) throws(UsageError) -> Duration? {
        guard let text = value(name) else { return nil }
        do throws(GoDuration.ParseError) { return try GoDuration.parse(text) } catch {
            throw UsageError("--\(name): \(error)")
        }
    }

    /// One of a fixed set of words, e.g. `--format text|json`.
    public func choice<T: RawRepresentable & CaseIterable>(_ name: String, default defaultValue: T) throws(UsageError)
        -> T where T.RawValue == String
    {
        guard let text = value(name) else { return defaultValue }
        guard let v = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw UsageError("invalid value \(JSON.excerpt(text)) for '--\(name)': expected one of \(allowed)")
        }
        return v
    }

    /// Go's `strconv.ParseBool`, which serf's bool flags use (`-coalesce=F` works).
    static func goBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": return true
        case "0", "f", "F", "FALSE", "false", "False": return false
        default: return nil
        }
    }
}
