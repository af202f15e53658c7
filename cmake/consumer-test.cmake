# Builds and runs tests/consumer/ the way a downstream project would use corotcp. Run by CTest:
#   cmake -DMODE=find_package|add_subdirectory|fetchcontent -DSOURCE_DIR=... -DMAIN_BINARY_DIR=...
#         -DWORK_DIR=... -DGENERATOR=... -DMAKE_PROGRAM=... -DCXX_COMPILER=... -DCXX_FLAGS=...
#         -DWITH_TUN=ON|OFF -P consumer-test.cmake
cmake_minimum_required(VERSION 3.25)

function(run what)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "consumer (${MODE}): ${what} failed (${rc}):\n${out}")
    endif()
    set(output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
set(args -DCOROTCP_CONSUMER_MODE=${MODE} "-DCOROTCP_SOURCE_DIR=${SOURCE_DIR}")
if(MODE STREQUAL "find_package")
    run("install into ${prefix}" "${CMAKE_COMMAND}" --install "${MAIN_BINARY_DIR}" --prefix "${prefix}")
    # Search the scratch prefix only, not the package registries (a stale corotcp could be found there).
    list(APPEND args "-DCMAKE_PREFIX_PATH=${prefix}" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF
         -DCMAKE_FIND_USE_SYSTEM_PACKAGE_REGISTRY=OFF "-DCOROTCP_EXPECTED_PREFIX=${prefix}")
endif()

run(configure "${CMAKE_COMMAND}" -S "${SOURCE_DIR}/tests/consumer" -B "${WORK_DIR}/build" -G "${GENERATOR}"
    "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    -DCMAKE_BUILD_TYPE= "-DCOROTCP_CONSUMER_TUN=${WITH_TUN}" ${args})
run(build "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run(run "${WORK_DIR}/build/corotcp_consumer")
if(NOT output MATCHES "connection timed out")
    message(FATAL_ERROR "consumer (${MODE}): unexpected output:\n${output}")
endif()
message(STATUS "consumer (${MODE}): ok: ${output}")
