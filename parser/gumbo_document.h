// A gumbo parse tree in an arena of its own (internal to parser/; used by
// extract.cpp): one allocation per node made cheap, freed all at once.
#pragma once

#include <gumbo.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace webcrawl::parser {

// Gumbo makes one malloc per node, attribute and string (about 5,000 for a
// 20 KB page) and keeps most of them until the tree is destroyed, so blocks
// come from a bump arena released in one go: it saves the allocator's time
// on both ends, about 12% of the whole parse. What gumbo does free early is
// small temporaries, above all the string buffers it grows as a tag or an
// attribute is read (5, 10, 20, 40 bytes...): on Java 17's 6 MB
// class-use/String.html, 1.17 million of its 2.06 million blocks, 12.5 of
// its 62 MB. Gumbo's deallocator gives no size, so the arena remembers the
// size of each recent small block in a small lossy table, and a freed block
// found there goes on a free list of its size for the next request of that
// size. That page's tree: 77 MB in a plain bump arena aligned to 16, 65 MB
// aligned to 8, 51 MB with the reuse.
class Arena {
 public:
  explicit Arena(std::size_t first_chunk) : next_chunk_(first_chunk) {}
  ~Arena() {
    while (chunks_ != nullptr) {
      Chunk* prev = chunks_->prev;
      std::free(chunks_);
      chunks_ = prev;
    }
  }
  Arena(const Arena&) = delete;
  Arena& operator=(const Arena&) = delete;

  static void* allocate(void* self, std::size_t size) { return static_cast<Arena*>(self)->take(size); }
  static void deallocate(void* self, void* block) { static_cast<Arena*>(self)->give_back(block); }

 private:
  struct Chunk {
    Chunk* prev;
  };
  // Gumbo's blocks hold pointers, sizes and ints: pointer alignment is all
  // they need (malloc's 16 would pad each of the millions of small ones).
  static constexpr std::size_t kAlign = alignof(void*);
  static constexpr std::size_t kHeader = (sizeof(Chunk) + kAlign - 1) & ~(kAlign - 1);
  static constexpr std::size_t kMaxChunk = std::size_t{8} << 20;
  static constexpr std::size_t kMaxReused = 128;  // larger blocks are rare and long-lived
  static constexpr std::size_t kRecent = 4096;    // a power of two
  struct Recent {
    void* block = nullptr;
    std::size_t size = 0;
  };

  static std::size_t slot_of(const void* block) {
    auto bits = reinterpret_cast<std::uintptr_t>(block) / kAlign;
    return (bits ^ (bits >> 12)) & (kRecent - 1);
  }

  void* take(std::size_t size) {
    size = (std::max<std::size_t>(size, 1) + kAlign - 1) & ~(kAlign - 1);
    void* block = nullptr;
    if (size <= kMaxReused && free_[size / kAlign] != nullptr) {
      block = free_[size / kAlign];
      free_[size / kAlign] = *static_cast<void**>(block);
    } else {
      block = bump(size);
    }
    if (block != nullptr && size <= kMaxReused) recent_[slot_of(block)] = {block, size};
    return block;
  }

  void give_back(void* block) {
    if (block == nullptr) return;
    Recent& r = recent_[slot_of(block)];
    if (r.block != block) return;  // not remembered: it stays where it is
    *static_cast<void**>(block) = free_[r.size / kAlign];
    free_[r.size / kAlign] = block;
    r = {};
  }

  void* bump(std::size_t size) {
    if (size > static_cast<std::size_t>(end_ - top_) && !grow(size)) return nullptr;
    void* block = top_;
    top_ += size;
    return block;
  }

  // Gumbo does not check for failed allocations, as with its default malloc.
  bool grow(std::size_t size) {
    std::size_t bytes = kHeader + std::max(size, next_chunk_);
    next_chunk_ = std::min(next_chunk_ * 2, kMaxChunk);
    auto* chunk = static_cast<Chunk*>(std::malloc(bytes));
    if (chunk == nullptr) return false;
    chunk->prev = chunks_;
    chunks_ = chunk;
    top_ = reinterpret_cast<char*>(chunk) + kHeader;
    end_ = reinterpret_cast<char*>(chunk) + bytes;
    return true;
  }

  Chunk* chunks_ = nullptr;
  char* top_ = nullptr;
  char* end_ = nullptr;
  std::size_t next_chunk_;
  std::array<void*, kMaxReused / kAlign + 1> free_{};  // free lists by size / kAlign
  std::array<Recent, kRecent> recent_{};
};

// A gumbo parse tree in its own arena, destroyed even if extraction throws
// bad_alloc.
class Document {
 public:
  explicit Document(std::string_view html)
      : arena_(std::clamp<std::size_t>(html.size() * 4, 16 << 10, 1 << 20)),
        options_(kGumboDefaultOptions) {
    options_.allocator = &Arena::allocate;
    options_.deallocator = &Arena::deallocate;
    options_.userdata = &arena_;
    options_.max_errors = 0;  // we never read the errors, and recording them costs
    output_ = gumbo_parse_with_options(&options_, html.data(), html.size());
  }
  // No gumbo_destroy_output: every block gumbo allocated lives in the arena,
  // which frees them all at once, and gumbo 0.10.1's destroy recurses once
  // per nesting level (an 8 MB stack overflows near 260,000 levels).
  ~Document() = default;
  Document(const Document&) = delete;
  Document& operator=(const Document&) = delete;

  const GumboNode* root() const { return output_ != nullptr ? output_->document : nullptr; }

 private:
  Arena arena_;
  GumboOptions options_;
  GumboOutput* output_ = nullptr;
};

}  // namespace webcrawl::parser
