/// One argument of a Redis command: a byte string, so keys and values may hold any bytes, NUL included.
///
/// String literals convert implicitly: `["SET", key, RedisArgument(bytes)]`.
public struct RedisArgument: Sendable, Hashable, ExpressibleByStringLiteral {
    /// The bytes sent to the server.
    public var bytes: [UInt8]

    /// An argument holding these bytes unchanged.
    public init(_ bytes: [UInt8]) {
        self.bytes = bytes
    }

    /// An argument holding the string's UTF-8 bytes.
    public init(_ string: String) {
        self.bytes = Array(string.utf8)
    }

    /// An argument holding the integer in decimal, as Redis expects numbers.
    public init(_ int: Int) {
        self.bytes = Array(String(int).utf8)
    }

    public init(stringLiteral value: String) {
        self.init(value)
    }
}
