import RumorSupport

/// One agent setting, declared once: its flag spellings, config key, value parser, default and help line. The
/// config loader, the flag parser, `rumor agent --help` and README's option table all read these declarations
/// (``AgentOption/all``), so they cannot drift apart.
public struct AgentOption: Sendable {
    /// Flag names without dashes; the first is the one help shows. Serf's single-dash spelling of each works too.
    public let flags: [String]
    /// The config file key, or nil for a flag only.
    public let key: String?
    /// What the flag's value looks like in help ("duration"); nil for a bool flag that takes no value.
    public let valueName: String?
    /// Given more than once (or as a JSON array) the values add up.
    public let repeatable: Bool
    /// The default as a user would write it; empty when there is none.
    public let defaultText: String
    public let help: String
    /// Applies a value from the command line; throws what was wrong with it (the caller adds the flag's name).
    let fromFlag: @Sendable (inout AgentConfiguration, String) throws(OptionValueError) -> Void
    /// Applies a value from a config file; throws what was wrong with it (the caller adds the file and key).
    let fromJSON: @Sendable (inout AgentConfiguration, JSON) throws(OptionValueError) -> Void

    /// What is wrong with one value, without saying where it came from.
    public struct OptionValueError: Error, CustomStringConvertible, Sendable {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    public var flag: String? { flags.first }
    public var isBoolFlag: Bool { valueName == nil }
}

// MARK: Builders, one per kind of value

extension AgentOption {
    typealias Config = AgentConfiguration
    typealias Failure = OptionValueError

    /// A JSON value of the wrong type, named with the value itself.
    static func wrongType(_ json: JSON, expected: String) -> Failure {
        Failure("expected \(expected), got \(json.typeName) \(json.preview())")
    }

    static func string(_ json: JSON, expected: String = "a string") throws(Failure) -> String {
        guard case .string(let s) = json else { throw wrongType(json, expected: expected) }
        return s
    }

    /// A parser of free text: not empty, at most `maxBytes`, then `check`. A `secret` is never repeated in errors.
    static func nonEmpty(
        maxBytes: Int, secret: Bool = false, _ check: @escaping @Sendable (String) throws(Failure) -> Void
    ) -> @Sendable (String) throws(Failure) -> String {
        { text throws(Failure) in
            guard !text.isEmpty else { throw Failure("must not be empty") }
            guard text.utf8.count <= maxBytes else {
                throw Failure("\(secret ? "the value" : JSON.excerpt(text)) is longer than \(maxBytes) bytes")
            }
            try check(text)
            return text
        }
    }

    /// A flag a built-in action declares for itself (no config key: an action's file settings live in its
    /// `"actions"` section). Its values are kept in ``AgentConfiguration/actionFlags`` for the action.
    public static func actionFlag(_ name: String, value: String, repeatable: Bool, help: String) -> AgentOption {
        let parse = nonEmpty(maxBytes: 4096) { _ throws(Failure) in }
        return AgentOption(
            flags: [name], key: nil, valueName: value, repeatable: repeatable, defaultText: "", help: help,
            fromFlag: { c, text throws(Failure) in c.actionFlags[name, default: []].append(try parse(text)) },
            fromJSON: { _, _ throws(Failure) in throw Failure("\(name) is a flag, not a config key") })
    }

    /// Free text (names, paths, tokens): must not be empty, and at most `maxBytes`.
    static func text(
        _ flags: [String], key: String?, value: String, secret: Bool = false, default defaultText: String = "",
        maxBytes: Int = 4096,
        _ help: String, check: @escaping @Sendable (String) throws(Failure) -> Void = { _ throws(Failure) in },
        set: @escaping @Sendable (inout Config, String) -> Void
    ) -> AgentOption {
        let parse = nonEmpty(maxBytes: maxBytes, secret: secret, check)
        return AgentOption(
            flags: flags, key: key, valueName: value, repeatable: false, defaultText: defaultText, help: help,
            fromFlag: { c, text throws(Failure) in set(&c, try parse(text)) },
            fromJSON: { c, json throws(Failure) in set(&c, try parse(try string(json))) })
    }

    /// One of a fixed set of words.
    static func choice(
        _ flags: [String], key: String?, _ choices: [String], default defaultText: String, _ help: String,
        set: @escaping @Sendable (inout Config, String) -> Void
    ) -> AgentOption {
        let parse: @Sendable (String) throws(Failure) -> String = { text throws(Failure) in
            guard choices.contains(text) else {
                throw Failure("\(JSON.excerpt(text)) is not one of \(choices.joined(separator: ", "))")
            }
            return text
        }
        return AgentOption(
            flags: flags, key: key, valueName: choices.joined(separator: "|"), repeatable: false,
            defaultText: defaultText, help: help,
            fromFlag: { c, text throws(Failure) in set(&c, try parse(text)) },
            fromJSON: { c, json throws(Failure) in set(&c, try parse(try string(json))) })
    }

    /// `host:port` (or a bare host) with a default port.
    static func address(
        _ flags: [String], key: String, value: String, defaultPort: Int, default defaultText: String = "",
        _ help: String, set: @escaping @Sendable (inout Config, String) -> Void
    ) -> AgentOption {
        text(flags, key: key, value: value, default: defaultText, maxBytes: 300, help, check: { text throws(Failure) in
            do throws(HostPort.ParseError) { _ = try HostPort.parse(text, defaultPort: defaultPort, what: "address") } catch {
                throw Failure("\(JSON.excerpt(text)) is not an address: \(error.reason) (expected ip:port, [ipv6]:port or host)")
            }
        }, set: set)
    }

    /// A bool. A bare flag means true; `inverted` flags name the opposite of their key (`--disable-compression`
    /// for `enable_compression`).
    static func bool(
        _ flags: [String], key: String?, default defaultValue: Bool, inverted: Bool = false, _ help: String,
        set: @escaping @Sendable (inout Config, Bool) -> Void
    ) -> AgentOption {
        AgentOption(
            flags: flags, key: key, valueName: nil, repeatable: false,
            defaultText: key == nil && inverted ? "" : String(defaultValue), help: help,
            fromFlag: { c, text throws(Failure) in
                guard let b = goBool(text) else { throw Failure("\(JSON.excerpt(text)) is not true or false") }
                set(&c, inverted ? !b : b)
            },
            fromJSON: { c, json throws(Failure) in
                guard case .bool(let b) = json else { throw wrongType(json, expected: "true or false") }
                set(&c, b)
            })
    }

    /// A whole number within `range`.
    static func integer(
        _ flags: [String], key: String?, value: String = "n", _ range: ClosedRange<Int>, default defaultValue: Int,
        _ help: String, set: @escaping @Sendable (inout Config, Int) -> Void
    ) -> AgentOption {
        let expected = "a whole number from \(range.lowerBound) to \(range.upperBound)"
        let check: @Sendable (Int) throws(Failure) -> Int = { n throws(Failure) in
            guard range.contains(n) else { throw Failure("\(n) is out of range: expected \(expected)") }
            return n
        }
        return AgentOption(
            flags: flags, key: key, valueName: value, repeatable: false, defaultText: String(defaultValue), help: help,
            fromFlag: { c, text throws(Failure) in
                guard let n = Int(text) else { throw Failure("\(JSON.excerpt(text)) is not \(expected)") }
                set(&c, try check(n))
            },
            fromJSON: { c, json throws(Failure) in
                guard case .number(let d) = json, d == d.rounded(), abs(d) < 1e15 else {
                    throw wrongType(json, expected: expected)
                }
                set(&c, try check(Int(d)))
            })
    }

    /// A Go duration ("30s") within `range`.
    static func duration(
        _ flags: [String], key: String?, _ range: ClosedRange<Duration>, default defaultText: String, _ help: String,
        set: @escaping @Sendable (inout Config, Duration) -> Void
    ) -> AgentOption {
        let parse: @Sendable (String) throws(Failure) -> Duration = { text throws(Failure) in
            let d: Duration
            do throws(GoDuration.ParseError) { d = try GoDuration.parse(text) } catch { throw Failure(error.description) }
            guard range.contains(d) else {
                throw Failure(
                    "\(JSON.excerpt(text)) is out of range: expected \(GoDuration.format(range.lowerBound)) to "
                        + GoDuration.format(range.upperBound))
            }
            return d
        }
        return AgentOption(
            flags: flags, key: key, valueName: "duration", repeatable: false, defaultText: defaultText, help: help,
            fromFlag: { c, text throws(Failure) in set(&c, try parse(text)) },
            fromJSON: { c, json throws(Failure) in set(&c, try parse(try string(json, expected: "a duration string such as \"30s\""))) })
    }

    /// Repeatable strings: each flag adds one; the config key takes a JSON array and adds them all.
    static func list(
        _ flags: [String], key: String?, value: String, maxBytes: Int = 4096, _ help: String,
        check: @escaping @Sendable (String) throws(Failure) -> Void = { _ throws(Failure) in },
        add: @escaping @Sendable (inout Config, [String]) -> Void
    ) -> AgentOption {
        let parse = nonEmpty(maxBytes: maxBytes, check)
        return AgentOption(
            flags: flags, key: key, valueName: value, repeatable: true, defaultText: "", help: help,
            fromFlag: { c, text throws(Failure) in add(&c, [try parse(text)]) },
            fromJSON: { c, json throws(Failure) in
                guard case .array(let items) = json else { throw wrongType(json, expected: "an array of strings") }
                var values: [String] = []
                for (i, item) in items.enumerated() {
                    do throws(Failure) { values.append(try parse(try string(item))) } catch {
                        throw Failure("item \(i): \(error)")
                    }
                }
                add(&c, values)
            })
    }

    /// Go's `strconv.ParseBool`, which serf's bool flags use (`-replay=F` works).
    public static func goBool(_ text: String) -> Bool? {
        switch text {
        case "1", "t", "T", "TRUE", "true", "True": true
        case "0", "f", "F", "FALSE", "false", "False": false
        default: nil
        }
    }
}
