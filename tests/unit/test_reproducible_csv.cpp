// The comparison helper of the suite (tests/support/reproducible_csv.hpp): it drops exactly the
// wall-time columns and keeps every other field byte for byte.
#include <catch2/catch.hpp>

#include "reproducible_csv.hpp"

using namespace mdlab::test;

TEST_CASE("without_wall_times drops the wall-time columns and nothing else") {
    CHECK(is_wall_time_column("wall_s"));
    CHECK(is_wall_time_column("gen.wall_s"));
    CHECK(is_wall_time_column("cell.wall_s"));
    CHECK(!is_wall_time_column("gen.nfe"));
    CHECK(!is_wall_time_column("overall_s"));
    CHECK(!is_wall_time_column("wall_s.mean"));

    const std::string csv = "cell,node,mean,gen.nfe,gen.wall_s,cell.wall_s,error\n"
                            "0,w,0.5,79,0.25,1.5,\n"
                            "1,w,,79,0.5,2,\"failed: \"\"x\"\", y\nz\"\n";
    CHECK(without_wall_times(csv) == "cell,node,mean,gen.nfe,error\n"
                                     "0,w,0.5,79,\n"
                                     "1,w,,79,\"failed: \"\"x\"\", y\nz\"\n");
    // Two runs that differ only in their wall times compare equal, in anything else not.
    const std::string later = "cell,node,mean,gen.nfe,gen.wall_s,cell.wall_s,error\n0,w,0.5,79,0.3,1.7,\n";
    CHECK(without_wall_times(later) == without_wall_times("cell,node,mean,gen.nfe,gen.wall_s,cell.wall_s,error\n0,w,0.5,79,0.25,1.5,\n"));
    CHECK(without_wall_times(later) != without_wall_times("cell,node,mean,gen.nfe,gen.wall_s,cell.wall_s,error\n0,w,0.6,79,0.3,1.7,\n"));
    // Files without such columns (and a header-only file) are returned as they are.
    CHECK(without_wall_times("a,b\n1,2\n") == "a,b\n1,2\n");
    CHECK(without_wall_times("a,b\n") == "a,b\n");
    CHECK(without_wall_times("") == "");
}
