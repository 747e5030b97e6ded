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

extension RedisArgument {
    /// Calls `body` with the arguments as hiredis takes them: a count, an array of pointers and an array of
    /// lengths, valid only during the call.
    ///
    /// All arguments share one buffer, so the pointers need a single stable allocation; a trailing byte keeps it
    /// non-empty, so that empty arguments still get a valid pointer.
    static func withArgv<Result>(
        _ arguments: [RedisArgument],
        _ body: (Int32, UnsafeMutablePointer<UnsafePointer<CChar>?>, UnsafePointer<Int>) -> Result
    ) -> Result {
        var lengths: [Int] = []
        lengths.reserveCapacity(arguments.count)
        var total = 1
        for argument in arguments {
            lengths.append(argument.bytes.count)
            total += argument.bytes.count
        }
        var storage: [UInt8] = []
        storage.reserveCapacity(total)
        for argument in arguments {
            storage.append(contentsOf: argument.bytes)
        }
        storage.append(0)
        return storage.withUnsafeBufferPointer { buffer in
            let base = UnsafeRawPointer(buffer.baseAddress!)
            var offset = 0
            var pointers: [UnsafePointer<CChar>?] = []
            pointers.reserveCapacity(lengths.count)
            for length in lengths {
                pointers.append((base + offset).assumingMemoryBound(to: CChar.self))
                offset += length
            }
            return pointers.withUnsafeMutableBufferPointer { argv in
                lengths.withUnsafeBufferPointer { argvLengths in
                    body(Int32(arguments.count), argv.baseAddress!, argvLengths.baseAddress!)
                }
            }
        }
    }
}
