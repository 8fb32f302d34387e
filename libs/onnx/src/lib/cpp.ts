import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The C++ example shipped in every bundle (cpp/main.cpp): OpenCV dnn, reads preprocess.json + labels.json with cv::FileStorage. */
export const CPP_MAIN = String.raw`// agekit age model: run model.onnx on image files with OpenCV's dnn module (OpenCV >= 4.5).
// Build (Debian: apt install g++ libopencv-dev):
//   g++ -O2 -std=c++17 main.cpp -o agekit_predict $(pkg-config --cflags --libs opencv4)
// or: cmake -S . -B build && cmake --build build
// Optional second engine, ONNX Runtime's C API (needed for float16 bundles: OpenCV 4.6 cannot read float16 weights):
//   g++ -O2 -std=c++17 -DAGEKIT_WITH_ONNXRUNTIME -I<onnxruntime>/include main.cpp -o agekit_predict
//       $(pkg-config --cflags --libs opencv4) <onnxruntime>/lib/libonnxruntime.so -Wl,-rpath,<onnxruntime>/lib
// or: cmake -S . -B build -DONNXRUNTIME_DIR=<onnxruntime> (a release folder with include/ and lib/)
// Run:
//   ./agekit_predict [--engine opencv|onnxruntime] <bundle dir> <image> [<image> ...]
// The engine defaults to OpenCV, or to ONNX Runtime for a float16 bundle when it is compiled in.
// Prints one tab-separated line per image: file, predicted label, expected age, output values.
#include <opencv2/core.hpp>
#include <opencv2/dnn.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#ifdef AGEKIT_WITH_ONNXRUNTIME
#include <onnxruntime_c_api.h>

// One ONNX Runtime session on one thread. The C API is versioned: the header's version works with any newer library.
class OnnxRuntimeModel {
 public:
  OnnxRuntimeModel(const std::string& modelPath, const std::string& inputName) : inputName_(inputName) {
    api_ = OrtGetApiBase()->GetApi(ORT_API_VERSION);
    if (!api_) throw std::runtime_error("the onnxruntime library is older than its header (ORT_API_VERSION)");
    check(api_->CreateEnv(ORT_LOGGING_LEVEL_WARNING, "agekit", &env_));
    OrtSessionOptions* options = nullptr;
    check(api_->CreateSessionOptions(&options));
    OrtStatus* status = api_->SetIntraOpNumThreads(options, 1);
    if (!status) status = api_->CreateSession(env_, modelPath.c_str(), options, &session_);
    api_->ReleaseSessionOptions(options);
    check(status);
    check(api_->CreateCpuMemoryInfo(OrtArenaAllocator, OrtMemTypeDefault, &memory_));
    OrtAllocator* allocator = nullptr;
    check(api_->GetAllocatorWithDefaultOptions(&allocator));
    char* name = nullptr;
    check(api_->SessionGetOutputName(session_, 0, allocator, &name));
    outputName_ = name;
    check(api_->AllocatorFree(allocator, name));
  }
  ~OnnxRuntimeModel() {
    if (memory_) api_->ReleaseMemoryInfo(memory_);
    if (session_) api_->ReleaseSession(session_);
    if (env_) api_->ReleaseEnv(env_);
  }
  OnnxRuntimeModel(const OnnxRuntimeModel&) = delete;
  OnnxRuntimeModel& operator=(const OnnxRuntimeModel&) = delete;

  // blob: the preprocessed image (1 x C x H x W or 1 x H x W x C, float32, continuous).
  std::vector<float> run(cv::Mat& blob) {
    std::vector<int64_t> shape(blob.size.p, blob.size.p + blob.dims);
    OrtValue* input = nullptr;
    check(api_->CreateTensorWithDataAsOrtValue(memory_, blob.ptr<float>(), blob.total() * sizeof(float), shape.data(), shape.size(),
                                               ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT, &input));
    const char* inputNames[] = {inputName_.c_str()};
    const char* outputNames[] = {outputName_.c_str()};
    OrtValue* output = nullptr;
    OrtStatus* status = api_->Run(session_, nullptr, inputNames, &input, 1, outputNames, 1, &output);
    api_->ReleaseValue(input);
    check(status);
    std::vector<float> values;
    float* data = nullptr;
    OrtTensorTypeAndShapeInfo* info = nullptr;
    size_t count = 0;
    status = api_->GetTensorMutableData(output, reinterpret_cast<void**>(&data));
    if (!status) status = api_->GetTensorTypeAndShape(output, &info);
    if (!status) status = api_->GetTensorShapeElementCount(info, &count);
    if (!status) values.assign(data, data + count);
    if (info) api_->ReleaseTensorTypeAndShapeInfo(info);
    api_->ReleaseValue(output);
    check(status);
    return values;
  }

 private:
  void check(OrtStatus* status) const {
    if (!status) return;
    std::string message = api_->GetErrorMessage(status);
    api_->ReleaseStatus(status);
    throw std::runtime_error("onnxruntime: " + message);
  }
  const OrtApi* api_ = nullptr;
  OrtEnv* env_ = nullptr;
  OrtSession* session_ = nullptr;
  OrtMemoryInfo* memory_ = nullptr;
  std::string inputName_, outputName_;
};
#endif

struct Preprocess {
  int width = 0, height = 0, channels = 3;
  std::string colorOrder, layout, resize, inputName, modelFormat;
  double scale = 1.0;
  std::vector<double> mean, stdev;
};

struct Labels {
  std::string task;
  std::vector<std::string> names;
  std::vector<double> ages;
  double regressionScale = 1.0, regressionOffset = 0.0;
};

static std::vector<double> numbers(const cv::FileNode& node) {
  std::vector<double> values;
  for (cv::FileNodeIterator it = node.begin(); it != node.end(); ++it) values.push_back(static_cast<double>(*it));
  return values;
}

static cv::FileStorage openJson(const std::string& path) {
  cv::FileStorage fs(path, cv::FileStorage::READ | cv::FileStorage::FORMAT_JSON);
  if (!fs.isOpened()) throw std::runtime_error("cannot open " + path);
  return fs;
}

static Preprocess loadPreprocess(const std::string& path) {
  cv::FileStorage fs = openJson(path);
  Preprocess p;
  p.width = static_cast<int>(fs["width"]);
  p.height = static_cast<int>(fs["height"]);
  p.channels = static_cast<int>(fs["channels"]);
  p.colorOrder = static_cast<std::string>(fs["colorOrder"]);
  p.layout = static_cast<std::string>(fs["layout"]);
  p.inputName = static_cast<std::string>(fs["inputName"]);
  p.modelFormat = fs["modelFormat"].empty() ? std::string("float32") : static_cast<std::string>(fs["modelFormat"]);
  p.resize = static_cast<std::string>(fs["resize"]["method"]);
  p.scale = static_cast<double>(fs["scale"]);
  p.mean = numbers(fs["mean"]);
  p.stdev = numbers(fs["std"]);
  if (p.width <= 0 || p.height <= 0 || (p.channels != 1 && p.channels != 3) ||
      static_cast<int>(p.mean.size()) != p.channels || static_cast<int>(p.stdev.size()) != p.channels)
    throw std::runtime_error(path + ": bad width/height/channels/mean/std");
  return p;
}

static Labels loadLabels(const std::string& path) {
  cv::FileStorage fs = openJson(path);
  Labels l;
  l.task = static_cast<std::string>(fs["task"]);
  cv::FileNode labels = fs["labels"];
  for (cv::FileNodeIterator it = labels.begin(); it != labels.end(); ++it) {
    l.names.push_back(static_cast<std::string>((*it)["name"]));
    cv::FileNode age = (*it)["age"];  // null when the label has no representative age
    l.ages.push_back(age.isInt() || age.isReal() ? static_cast<double>(age) : std::nan(""));
  }
  if (l.task == "regression") {
    l.regressionScale = static_cast<double>(fs["regression"]["scale"]);
    l.regressionOffset = static_cast<double>(fs["regression"]["offset"]);
  }
  return l;
}

// Decode (colour, EXIF applied), resize to the model size, then colour order / gray, then normalise:
// value = (pixel * scale - mean[c]) / std[c]. Same order as the training pipeline: resize RGB first, then gray.
static cv::Mat preprocess(const std::string& file, const Preprocess& p) {
  cv::Mat image = cv::imread(file, cv::IMREAD_COLOR);  // BGR
  if (image.empty()) throw std::runtime_error("cannot read image " + file);
  if (image.cols != p.width || image.rows != p.height) {
    // The model was fed images resized with sharp (see README: resize); INTER_AREA is the closest OpenCV filter when
    // shrinking, INTER_LINEAR when enlarging. Resize beforehand to width x height for bit-identical input.
    int interpolation = (image.cols > p.width || image.rows > p.height) ? cv::INTER_AREA : cv::INTER_LINEAR;
    cv::resize(image, image, cv::Size(p.width, p.height), 0, 0, interpolation);
  }
  if (p.channels == 1) cv::cvtColor(image, image, cv::COLOR_BGR2GRAY);
  else if (p.colorOrder == "RGB") cv::cvtColor(image, image, cv::COLOR_BGR2RGB);
  cv::Mat values;
  image.convertTo(values, CV_32F, p.scale);
  std::vector<cv::Mat> planes;
  cv::split(values, planes);
  for (int c = 0; c < p.channels; ++c) planes[c] = (planes[c] - p.mean[c]) / p.stdev[c];
  cv::merge(planes, values);
  if (p.layout == "NHWC") {
    int dims[] = {1, p.height, p.width, p.channels};
    return cv::Mat(4, dims, CV_32F, values.data).clone();
  }
  return cv::dnn::blobFromImage(values);  // 1 x C x H x W, no scaling, no swap, no crop
}

int main(int argc, char** argv) {
  std::string engine;
  int first = 1;
  if (argc > 2 && std::strcmp(argv[1], "--engine") == 0) {
    engine = argv[2];
    first = 3;
  }
  if (argc < first + 2 || (engine != "" && engine != "opencv" && engine != "onnxruntime")) {
    std::fprintf(stderr, "usage: %s [--engine opencv|onnxruntime] <bundle dir> <image> [<image> ...]\n", argv[0]);
    return 2;
  }
  const std::string bundle = argv[first];
  int failures = 0;
  try {
    const Preprocess p = loadPreprocess(bundle + "/preprocess.json");
    const Labels labels = loadLabels(bundle + "/labels.json");
#ifdef AGEKIT_WITH_ONNXRUNTIME
    if (engine.empty()) engine = p.modelFormat == "float16" ? "onnxruntime" : "opencv";
    std::unique_ptr<OnnxRuntimeModel> ort;
    if (engine == "onnxruntime") ort.reset(new OnnxRuntimeModel(bundle + "/model.onnx", p.inputName));
#else
    if (engine == "onnxruntime") throw std::runtime_error("built without ONNX Runtime (compile with -DAGEKIT_WITH_ONNXRUNTIME)");
    engine = "opencv";
#endif
    std::fprintf(stderr, "engine: %s\n", engine.c_str());
    cv::dnn::Net net;
    if (engine == "opencv") {
      net = cv::dnn::readNetFromONNX(bundle + "/model.onnx");
      net.setPreferableBackend(cv::dnn::DNN_BACKEND_OPENCV);
      net.setPreferableTarget(cv::dnn::DNN_TARGET_CPU);
    }
    for (int i = first + 1; i < argc; ++i) {
      try {
        cv::Mat blob = preprocess(argv[i], p);
        std::vector<float> outputs;
#ifdef AGEKIT_WITH_ONNXRUNTIME
        if (ort) outputs = ort->run(blob);
#endif
        if (engine == "opencv") {
          net.setInput(blob);
          cv::Mat out = net.forward();
          outputs.assign(out.ptr<float>(), out.ptr<float>() + out.total());
        }
        const float* y = outputs.data();
        const size_t n = outputs.size();
        std::string label;
        double age = 0.0;
        if (labels.task == "classification") {
          if (n != labels.names.size()) throw std::runtime_error("model output size differs from labels.json");
          size_t best = 0;
          for (size_t k = 0; k < n; ++k) {
            age += y[k] * labels.ages[k];  // expected age = sum_k p_k * age_k
            if (y[k] > y[best]) best = k;
          }
          label = labels.names[best];
        } else {
          age = y[0] * labels.regressionScale + labels.regressionOffset;
          label = cv::format("%.1f", age);
        }
        std::printf("%s\t%s\t%.4f\t", argv[i], label.c_str(), age);
        for (size_t k = 0; k < n; ++k) std::printf(k ? " %.9g" : "%.9g", y[k]);
        std::printf("\n");
      } catch (const std::exception& e) {
        std::fprintf(stderr, "error: %s: %s\n", argv[i], e.what());
        ++failures;
      }
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return failures ? 1 : 0;
}
`;

export const CPP_CMAKELISTS = `cmake_minimum_required(VERSION 3.10)
project(agekit_predict CXX)
set(CMAKE_CXX_STANDARD 17)
set(CMAKE_CXX_STANDARD_REQUIRED ON)
find_package(OpenCV REQUIRED COMPONENTS core imgproc imgcodecs dnn)
add_executable(agekit_predict main.cpp)
target_include_directories(agekit_predict PRIVATE \${OpenCV_INCLUDE_DIRS})
target_link_libraries(agekit_predict \${OpenCV_LIBS})
# Optional second engine for float16 bundles: ONNX Runtime's C API from a release folder (include/, lib/).
set(ONNXRUNTIME_DIR "" CACHE PATH "ONNX Runtime release folder: adds the --engine onnxruntime runner")
if(ONNXRUNTIME_DIR)
  find_library(ONNXRUNTIME_LIBRARY onnxruntime PATHS \${ONNXRUNTIME_DIR}/lib NO_DEFAULT_PATH)
  target_compile_definitions(agekit_predict PRIVATE AGEKIT_WITH_ONNXRUNTIME)
  target_include_directories(agekit_predict PRIVATE \${ONNXRUNTIME_DIR}/include)
  target_link_libraries(agekit_predict \${ONNXRUNTIME_LIBRARY})
endif()
`;

/** ONNX Runtime's C API for the example's second engine: the folder holding onnxruntime_c_api.h, and the shared library. */
export interface OnnxRuntimeC {
  includeDir: string;
  library: string;
}

export interface CppToolchain {
  compiler: string;
  cflags: string[];
  /** Found: the example is built with ONNX Runtime as a second engine (float16 bundles, which OpenCV 4.6 cannot read). */
  onnxRuntime?: OnnxRuntimeC;
}

/** The library onnxruntime-node ships (Linux x64), if present: the C API's implementation, without its headers. */
function onnxRuntimeNodeLibrary(): string | undefined {
  try {
    const file = join(dirname(require.resolve('onnxruntime-node/package.json')), 'bin', 'napi-v6', 'linux', 'x64', 'libonnxruntime.so.1');
    return existsSync(file) ? file : undefined;
  } catch {
    return undefined;
  }
}

/**
 * ONNX Runtime's C headers and library, from ONNXRUNTIME_DIR (a release folder: include/ + lib/libonnxruntime.so) or
 * ONNXRUNTIME_INCLUDE_DIR (+ ONNXRUNTIME_LIB, default the library onnxruntime-node ships). No npm or Debian package carries the
 * headers, so nothing is found unless one of these is set.
 */
export function findOnnxRuntimeC(env: NodeJS.ProcessEnv = process.env): OnnxRuntimeC | undefined {
  const root = env['ONNXRUNTIME_DIR'];
  const includeDir = env['ONNXRUNTIME_INCLUDE_DIR'] ?? (root ? join(root, 'include') : undefined);
  const library = env['ONNXRUNTIME_LIB'] ?? (root ? join(root, 'lib', 'libonnxruntime.so') : onnxRuntimeNodeLibrary());
  if (!includeDir || !library || !existsSync(join(includeDir, 'onnxruntime_c_api.h')) || !existsSync(library)) return undefined;
  return { includeDir, library };
}

/** g++ and OpenCV 4 (pkg-config opencv4), or why they are missing; ONNX Runtime's C API too when findOnnxRuntimeC finds it. */
export function findCppToolchain(compiler = 'g++'): { ok: true; toolchain: CppToolchain } | { ok: false; reason: string } {
  const gxx = spawnSync(compiler, ['--version'], { encoding: 'utf8' });
  if (gxx.error || gxx.status !== 0) return { ok: false, reason: `${compiler} not found` };
  const pc = spawnSync('pkg-config', ['--cflags', 'opencv4'], { encoding: 'utf8' });
  if (pc.error || pc.status !== 0) return { ok: false, reason: 'OpenCV 4 not found (pkg-config opencv4; Debian: apt install libopencv-dev)' };
  return { ok: true, toolchain: { compiler, cflags: pc.stdout.trim().split(/\s+/).filter(Boolean), onnxRuntime: findOnnxRuntimeC() } };
}

/** Compile cpp/main.cpp of a bundle (links only core, imgproc, imgcodecs, dnn to keep the build short; ONNX Runtime when found). */
export function buildCppExample(sourceDir: string, outBinary: string, toolchain: CppToolchain): void {
  const ort = toolchain.onnxRuntime;
  const ortArgs = ort ? ['-DAGEKIT_WITH_ONNXRUNTIME', `-I${ort.includeDir}`, ort.library, `-Wl,-rpath,${dirname(ort.library)}`] : [];
  const args = ['-O1', '-std=c++17', join(sourceDir, 'main.cpp'), '-o', outBinary, ...toolchain.cflags, ...ortArgs, '-lopencv_dnn', '-lopencv_imgcodecs', '-lopencv_imgproc', '-lopencv_core'];
  const run = spawnSync(toolchain.compiler, args, { encoding: 'utf8' });
  if (run.status !== 0 || !existsSync(outBinary)) throw new Error(`C++ build failed (${toolchain.compiler} ${args.join(' ')}):\n${run.stderr}`);
}

export interface CppPrediction {
  file: string;
  label: string;
  expectedAge: number;
  outputs: number[];
}

/** Run the compiled example on images; parses its tab-separated lines (and the engine it names on stderr). */
export function runCppExample(binary: string, bundleDir: string, images: string[]): { predictions: CppPrediction[]; errors: string[]; engine?: string } {
  const run = spawnSync(binary, [bundleDir, ...images], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  const predictions = run.stdout
    .split('\n')
    .filter((l) => l.trim())
    .map((line) => {
      const [file, label, age, outputs] = line.split('\t');
      return { file, label, expectedAge: Number(age), outputs: outputs.split(' ').map(Number) };
    });
  const errors = run.stderr.split('\n').filter((l) => l.startsWith('error'));
  if (run.status !== 0 && errors.length === 0) errors.push(`exit status ${run.status}: ${run.stderr.trim()}`);
  const engine = /^engine: (\S+)$/m.exec(run.stderr)?.[1];
  return { predictions, errors, engine };
}
