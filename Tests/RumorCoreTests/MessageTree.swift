import RumorWire

/// A wire message as a sequence of msgpack values (type bytes below 0x80 read as positive fixints); byte strings
/// that hold msgpack containers (tags, an ack's coordinate, query filters) are opened too. Lets a test reach every
/// number a peer puts in a message, change it, and encode the message again.
enum MessageTree: Sendable {
    case value(MessagePack)
    /// Bytes that did not parse: kept as they are.
    case raw([UInt8])

    /// Splits `bytes` into msgpack values; any unparseable tail stays raw.
    static func parse(_ bytes: [UInt8]) -> [MessageTree] {
        var out: [MessageTree] = []
        var r = MessagePackReader(bytes)
        while r.remaining > 0 {
            let start = bytes.count - r.remaining
            guard let v = try? r.read() else {
                out.append(.raw(Array(bytes[start...])))
                break
            }
            out.append(.value(v))
        }
        return out
    }

    static func encode(_ parts: [MessageTree]) -> [UInt8] {
        var w = MessagePackWriter(.gossip)
        for p in parts {
            switch p {
            case .value(let v): w.write(v)
            case .raw(let b): w.appendRaw(b)
            }
        }
        return w.bytes
    }

    /// The parts of a byte string if it holds a msgpack container, else nil (a name, an address).
    static func nested(_ bytes: [UInt8]) -> [MessageTree]? {
        let parts = parse(bytes)
        let holds = parts.contains {
            switch $0 {
            case .value(.map), .value(.array): true
            default: false
            }
        }
        return holds ? parts : nil
    }
}

/// The path to one number inside a `[MessageTree]`, with a readable name made of map keys.
struct LeafPath: Hashable, Sendable, CustomStringConvertible {
    var steps: [Int]
    var name: String
    var description: String { name }
}

extension [MessageTree] {
    /// Every number (unsigned, negative or float) anywhere in the message.
    var numberPaths: [LeafPath] {
        var out: [LeafPath] = []
        for (i, part) in enumerated() {
            if case .value(let v) = part { v.collect(into: &out, path: [i], name: "#\(i)") }
        }
        return out
    }

    /// The message with the number at `path` replaced by `value`.
    func replacing(_ path: LeafPath, with value: MessagePack) -> [MessageTree] {
        var copy = self
        if case .value(let v) = copy[path.steps[0]] {
            copy[path.steps[0]] = .value(v.replacing(path.steps.dropFirst(), with: value))
        }
        return copy
    }

    var encoded: [UInt8] { MessageTree.encode(self) }
}

extension MessagePack {
    fileprivate func collect(into out: inout [LeafPath], path: [Int], name: String) {
        switch self {
        case .uint, .int, .double: out.append(LeafPath(steps: path, name: name))
        case .array(let items):
            for (i, v) in items.enumerated() { v.collect(into: &out, path: path + [i], name: "\(name)[\(i)]") }
        case .map(let pairs):
            for (i, p) in pairs.enumerated() {
                p.value.collect(into: &out, path: path + [i], name: "\(name).\(p.key.stringValue ?? "?")")
            }
        case .string(let b), .binary(let b):
            guard let parts = MessageTree.nested(b) else { return }
            for (i, p) in parts.enumerated() {
                if case .value(let v) = p { v.collect(into: &out, path: path + [i], name: "\(name)/#\(i)") }
            }
        default: break
        }
    }

    fileprivate func replacing(_ steps: ArraySlice<Int>, with value: MessagePack) -> MessagePack {
        guard let i = steps.first else { return value }
        switch self {
        case .array(var items):
            items[i] = items[i].replacing(steps.dropFirst(), with: value)
            return .array(items)
        case .map(var pairs):
            pairs[i].value = pairs[i].value.replacing(steps.dropFirst(), with: value)
            return .map(pairs)
        case .string(let b), .binary(let b):
            guard let parts = MessageTree.nested(b) else { return self }
            let bytes = parts.replacing(LeafPath(steps: Array(steps), name: ""), with: value).encoded
            if case .binary = self { return .binary(bytes) }
            return .string(bytes)
        default: return self
        }
    }
}
