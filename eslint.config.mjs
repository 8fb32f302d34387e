import nx from '@nx/eslint-plugin';

// Architecture of DESIGN.md, enforced: apps -> libs, and libs only along the drawn arrows.
export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/dist', '**/node_modules', '**/tmp', '**/.nx', 'data/**', 'models/**', 'csv/**'] },
  {
    files: ['**/*.ts', '**/*.js', '**/*.mjs', '**/*.cjs'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: true,
          allow: [],
          depConstraints: [
            { sourceTag: 'type:lib', notDependOnLibsWithTags: ['type:app', 'type:tool'] },
            { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'type:tool', onlyDependOnLibsWithTags: ['type:lib'] },
            { sourceTag: 'scope:dataset', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:plot', onlyDependOnLibsWithTags: ['scope:none'] },
            { sourceTag: 'scope:quality', onlyDependOnLibsWithTags: ['scope:dataset'] },
            { sourceTag: 'scope:enhance', onlyDependOnLibsWithTags: ['scope:dataset', 'scope:quality'] },
            { sourceTag: 'scope:resample', onlyDependOnLibsWithTags: ['scope:dataset'] },
            { sourceTag: 'scope:model', onlyDependOnLibsWithTags: ['scope:dataset'] },
            { sourceTag: 'scope:onnx', onlyDependOnLibsWithTags: ['scope:model'] },
          ],
        },
      ],
    },
  },
  {
    // each publishable lib's package.json must declare what its code imports (and nothing it does not)
    files: ['libs/*/package.json'],
    languageOptions: { parser: await import('jsonc-eslint-parser') },
    rules: {
      '@nx/dependency-checks': [
        'error',
        {
          buildTargets: ['build'],
          checkMissingDependencies: true,
          checkObsoleteDependencies: true,
          checkVersionMismatches: false,
          ignoredFiles: ['{projectRoot}/jest.config.js', '{projectRoot}/**/*.spec.ts'],
        },
      ],
    },
  },
  {
    files: ['**/*.ts'],
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
];
