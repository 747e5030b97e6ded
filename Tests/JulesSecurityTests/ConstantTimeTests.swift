import JulesSecurity
import Testing

@Suite("ConstantTime")
struct ConstantTimeTests {
    @Test(
        "equals compares length and content",
        arguments: [
            ([], [], true),
            ([1, 2, 3], [1, 2, 3], true),
            ([1, 2, 3], [1, 2, 4], false),
            ([0, 2, 3], [1, 2, 3], false),
            ([1, 2, 3], [1, 2], false),
            ([], [0], false),
            ([0], [], false),
        ] as [([UInt8], [UInt8], Bool)]
    )
    func equals(a: [UInt8], b: [UInt8], expected: Bool) {
        #expect(ConstantTime.equals(a, b) == expected)
        #expect(ConstantTime.equals(b, a) == expected)
    }
}
