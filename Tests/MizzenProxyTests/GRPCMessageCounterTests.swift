import NIOCore
import Testing
@testable import MizzenProxy

/// gRPC messages counted from body bytes, however the stream is cut into chunks.
struct GRPCMessageCounterTests {
    /// Three messages of 0, 3 and 300 bytes.
    static let stream: [UInt8] = {
        var bytes: [UInt8] = []
        for size in [0, 3, 300] {
            bytes += [0, UInt8((size >> 24) & 0xFF), UInt8((size >> 16) & 0xFF), UInt8((size >> 8) & 0xFF), UInt8(size & 0xFF)]
            bytes += Array(repeating: 7, count: size)
        }
        return bytes
    }()

    @Test("messages are counted across any chunking", arguments: [1, 2, 4, 5, 6, 7, 64, 1000])
    func chunked(size: Int) {
        var counter = GRPCMessageCounter()
        var offset = 0
        while offset < Self.stream.count {
            let end = min(offset + size, Self.stream.count)
            counter.consume(ByteBuffer(bytes: Self.stream[offset..<end]))
            offset = end
        }
        #expect(counter.messages == 3)
    }
}
