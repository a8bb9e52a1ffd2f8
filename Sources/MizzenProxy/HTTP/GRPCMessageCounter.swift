import NIOCore

/// Counts gRPC messages in a stream of body bytes (each message is a 1-byte flag, a 4-byte
/// big-endian length and the payload; gRPC over HTTP/2 §Length-Prefixed-Message), for Istio's
/// `istio_request_messages_total` and `istio_response_messages_total`. Reads only the 5-byte
/// prefixes: a chunk costs a few comparisons, whatever its size.
struct GRPCMessageCounter: Sendable {
    private(set) var messages = 0
    /// Bytes of the current message's payload still to come.
    private var remaining = 0
    /// Prefix bytes seen of the next message (0...4) and its length so far.
    private var prefixSeen = 0
    private var length = 0

    mutating func consume(_ buffer: ByteBuffer) {
        var offset = buffer.readerIndex
        let end = buffer.writerIndex
        while offset < end {
            if remaining > 0 {
                let take = min(remaining, end - offset)
                remaining -= take
                offset += take
                continue
            }
            guard let byte = buffer.getInteger(at: offset, as: UInt8.self) else { return }
            offset += 1
            if prefixSeen > 0 { length = length << 8 | Int(byte) }
            prefixSeen += 1
            if prefixSeen == 5 {
                messages += 1
                remaining = length
                prefixSeen = 0
                length = 0
            }
        }
    }
}
