/// Bytes of access-log lines being made on one event loop: a growable buffer of raw memory
/// appended to with `memcpy`. `[UInt8]`'s append (uniqueness and capacity checks per call, some
/// thirty calls a line) was the largest cost of a line in the profile. The owner frees it.
package struct LogBytes {
    private(set) var base: UnsafeMutablePointer<UInt8>
    package private(set) var count = 0
    private var capacity: Int

    package init(capacity: Int = 64 * 1024) {
        self.capacity = max(capacity, 256)
        base = .allocate(capacity: self.capacity)
    }

    /// Releases the memory; the value must not be used afterwards.
    package func deallocate() {
        base.deallocate()
    }

    package var isEmpty: Bool { count == 0 }

    @inline(__always)
    private mutating func reserve(_ extra: Int) {
        guard count + extra > capacity else { return }
        var newCapacity = capacity * 2
        while newCapacity < count + extra { newCapacity *= 2 }
        let grown = UnsafeMutablePointer<UInt8>.allocate(capacity: newCapacity)
        grown.update(from: base, count: count)
        base.deallocate()
        base = grown
        capacity = newCapacity
    }

    package mutating func append(_ byte: UInt8) {
        reserve(1)
        base[count] = byte
        count += 1
    }

    package mutating func append(_ bytes: UnsafeBufferPointer<UInt8>) {
        guard let source = bytes.baseAddress, bytes.count > 0 else { return }
        reserve(bytes.count)
        (base + count).update(from: source, count: bytes.count)
        count += bytes.count
    }

    package mutating func append(_ bytes: [UInt8]) {
        bytes.withUnsafeBufferPointer { append($0) }
    }

    package mutating func append(_ text: String) {
        var text = text
        text.withUTF8 { append($0) }
    }

    /// Lends the bytes so far.
    package func withBytes<R>(_ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        body(UnsafeBufferPointer(start: base, count: count))
    }

    /// The bytes so far, copied out; the buffer is emptied and keeps its memory.
    package mutating func take() -> [UInt8] {
        let bytes = Array(UnsafeBufferPointer(start: base, count: count))
        count = 0
        return bytes
    }
}
