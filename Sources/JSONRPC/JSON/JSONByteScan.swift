/// Word-at-a-time scanning of eight bytes, used to skip plain string content quickly in the parser and the writer.
///
/// The masks have the high bit of a byte set where that byte is special. Borrows can mark bytes above a special one
/// spuriously, but never below it, so the lowest set bit always locates the first special byte exactly.
enum JSONByteScan {
    private static let ones: UInt64 = 0x0101_0101_0101_0101
    private static let highBits: UInt64 = 0x8080_8080_8080_8080

    /// Loads eight bytes in memory order as a little-endian word, so that lower bits are earlier bytes.
    @inline(__always)
    static func load(_ pointer: UnsafePointer<UInt8>) -> UInt64 {
        UInt64(littleEndian: UnsafeRawPointer(pointer).loadUnaligned(as: UInt64.self))
    }

    /// Loads the `count` (< 8) bytes at `pointer` padded with spaces, which no mask marks, so that short strings
    /// and tails are tested as one word without reading past their end.
    @inline(__always)
    static func loadPartial(_ pointer: UnsafePointer<UInt8>, count: Int) -> UInt64 {
        var word: UInt64 = ones &* 0x20
        withUnsafeMutableBytes(of: &word) { $0.baseAddress!.copyMemory(from: pointer, byteCount: count) }
        return UInt64(littleEndian: word)
    }

    @inline(__always)
    private static func zeroBytes(_ word: UInt64) -> UInt64 {
        (word &- ones) & ~word & highBits
    }

    /// Marks `"`, `\` and bytes below 0x20: the bytes the serializer must escape.
    @inline(__always)
    static func escapeMask(_ word: UInt64) -> UInt64 {
        // For bytes below 0x80, subtracting 0x20 sets the high bit exactly when the byte was below 0x20.
        let control = (word &- ones &* 0x20) & ~word & highBits
        return control | zeroBytes(word ^ (ones &* 0x22)) | zeroBytes(word ^ (ones &* 0x5C))
    }

    /// Marks the bytes that end the parser's plain-ASCII fast path: the escape bytes above and any non-ASCII byte.
    @inline(__always)
    static func parserStopMask(_ word: UInt64) -> UInt64 {
        escapeMask(word) | (word & highBits)
    }

    /// The index within the word of the first marked byte; the mask must not be zero.
    @inline(__always)
    static func firstMarkedByte(_ mask: UInt64) -> Int {
        mask.trailingZeroBitCount >> 3
    }
}
