// The packet an MPI worker sends for a cell, and the scratch folder it is collected from.
#include <catch2/catch.hpp>

#include <mdlab/error.hpp>

#include "command.hpp"
#include "mdlab/runtime/cell_packet.hpp"
#include "mdlab/runtime/cell_scratch.hpp"

using namespace mdlab::runtime;
namespace fs = std::filesystem;

TEST_CASE("a cell packet survives encoding byte for byte, and a damaged one is refused") {
    CellPacket p;
    p.cell = 1234567;
    p.cancelled = true;
    p.record = "{\"cell\":1234567}\n";
    p.log = {"first line", "", std::string("with\0nul", 8)};
    p.files = {{"gen.npy", std::string("\x93NUMPY\x01\x00\0\0", 10)}, {"sub/empty.txt", ""}};
    const std::string bytes = encode(p);
    const CellPacket q = decode_cell_packet(bytes);
    CHECK(q.cell == p.cell);
    CHECK(q.cancelled);
    CHECK(q.record == p.record);
    CHECK(q.log == p.log);
    CHECK(q.files == p.files);

    for (std::size_t cut : {std::size_t{0}, std::size_t{5}, bytes.size() / 2, bytes.size() - 1})
        CHECK_THROWS_AS(decode_cell_packet(bytes.substr(0, cut)), mdlab::Error);
    CHECK_THROWS_WITH(decode_cell_packet(bytes + "x"), Catch::Contains("1 bytes too many"));
}

TEST_CASE("the scratch folder hands over a cell's files and log lines once, then removes them") {
    mdlab::test::TempDir tmp;
    const fs::path root = tmp.path() / "scratch";
    {
        CellScratch scratch(root);
        mdlab::Matrix m = mdlab::Matrix::from_shape({2, 3});
        m.fill(1.5);
        scratch.points(7, "gen", m);
        mdlab::test::write_text(scratch.cell_dir(7) / "gen.loss.csv", "epoch,loss\n");
        scratch.log("cell 7 node gen done");
        auto taken = scratch.take(7);
        std::sort(taken.files.begin(), taken.files.end());
        REQUIRE(taken.files.size() == 2);
        CHECK(taken.files[0].first == "gen.loss.csv");
        CHECK(taken.files[0].second == "epoch,loss\n");
        CHECK(taken.files[1].first == "gen.npy");
        CHECK(taken.files[1].second.size() == 128 + 6 * sizeof(double));
        CHECK(taken.log == std::vector<std::string>{"cell 7 node gen done"});
        CHECK_FALSE(fs::exists(root / "cells" / "0007"));
        const auto again = scratch.take(7);
        CHECK(again.files.empty());
        CHECK(again.log.empty());
    }
    CHECK_FALSE(fs::exists(root));
}
