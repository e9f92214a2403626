pytest_plugins = ["tests.support.postgres", "tests.support.services", "tests.support.api",
                  "tests.support.rediscluster"]
