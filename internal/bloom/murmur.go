package bloom

// murmur is Hadoop's MurmurHash (org.apache.hudi.common.util.hash.MurmurHash,
// a MurmurHash2 variant) over data with the given seed, in Java int
// arithmetic. Two Java quirks matter for byte-exact filters: bytes are signed,
// so the 1-3 tail bytes are sign-extended before being xored in, and the tail
// is read from the end (for 3 left: data[n-3]<<16 ^ data[n-2]<<8 ^ data[n-1]).
func murmur[K string | []byte](data K, seed int32) int32 {
	const (
		m = 0x5bd1e995
		r = 24
	)
	n := len(data)
	h := uint32(seed) ^ uint32(int32(n))
	d := data
	for len(d) >= 4 {
		k := uint32(d[0]) | uint32(d[1])<<8 | uint32(d[2])<<16 | uint32(d[3])<<24
		k *= m
		k ^= k >> r
		k *= m
		h *= m
		h ^= k
		d = d[4:]
	}
	if left := len(d); left != 0 {
		if left >= 3 {
			h ^= uint32(int32(int8(data[n-3])) << 16)
		}
		if left >= 2 {
			h ^= uint32(int32(int8(data[n-2])) << 8)
		}
		h ^= uint32(int32(int8(data[n-1])))
		h *= m
	}
	h ^= h >> 13
	h *= m
	h ^= h >> 15
	return int32(h)
}
