/// A coding path stored as a linked list of keys, so that going one level deeper allocates one small node instead
/// of copying the whole `[any CodingKey]` array, and copying the path is a single reference.
///
/// The path is read only for error reporting and by the rare `Decodable` that inspects `codingPath`, so the array
/// form is built on demand.
struct JSONCodingPath {
    private final class Node: Sendable {
        let parent: Node?
        let key: any CodingKey
        let depth: Int

        init(parent: Node?, key: any CodingKey) {
            self.parent = parent
            self.key = key
            self.depth = (parent?.depth ?? 0) + 1
        }
    }

    private let tail: Node?

    static let root = JSONCodingPath(tail: nil)

    private init(tail: Node?) {
        self.tail = tail
    }

    /// The path as the array `Decoder.codingPath` and `DecodingError.Context` expect.
    var keys: [any CodingKey] {
        guard let tail else { return [] }
        var reversed: [any CodingKey] = []
        reversed.reserveCapacity(tail.depth)
        var node: Node? = tail
        while let current = node {
            reversed.append(current.key)
            node = current.parent
        }
        return reversed.reversed()
    }

    /// This path extended by `key`, or unchanged when `key` is `nil`.
    func appending(_ key: (any CodingKey)?) -> JSONCodingPath {
        guard let key else { return self }
        return JSONCodingPath(tail: Node(parent: tail, key: key))
    }
}
