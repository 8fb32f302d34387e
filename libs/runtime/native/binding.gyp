{
  "targets": [
    {
      "target_name": "agekit_runtime",
      "sources": ["src/addon.c", "src/conv.c", "src/loops.c"],
      "cflags": ["-std=c11", "-O3", "-fopenmp", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags!": ["-O2", "-O1", "-O0"],
      "defines": ["_GNU_SOURCE", "NAPI_VERSION=8"],
      "libraries": ["-ldnnl", "-fopenmp", "-lm"]
    }
  ]
}
