@echo off
rem Create or update the workshop environment on Windows, then check it with main.py.
rem
rem   Scripts\environment.bat [--venv] [--python PATH] [--cpu] [--unlocked] [--force]
rem                            [--no-data] [--offline DIR | --from URL] [--help]
rem
rem Native Windows runs TensorFlow on the CPU only: TensorFlow 2.10 was the last release
rem with GPU support on native Windows. For an NVIDIA GPU, use WSL2 and run
rem "bash Scripts/environment.sh" inside it. Linux and macOS: use Scripts/environment.sh.
rem
rem Every conda/mamba command is run with "call" (conda is a .bat file: without "call"
rem this script would stop after it), and every step checks errorlevel.
rem
rem The console gets a short summary, step by step; the long commands run through
rem labkit\install\steps.py (%%RUN%%): their whole output goes to .labkit-setup.log, which the summary
rem names, with a progress line while they run and the log's last lines when one fails. It
rem exits 130 when interrupted: then one line says at which step, and that the same command
rem continues (cmd may first ask "Terminate batch job (Y/N)?": either answer is fine).
setlocal EnableExtensions DisableDelayedExpansion

set "ENV_NAME=dl-workshop"
set "USE_VENV=0"
set "PYTHON_ARG="
set "UNLOCKED=0"
set "FORCE=0"
set "FETCH_DATA=1"
set "SOURCE="
set "SOURCE_KIND="
set "CONDA_TOOL="
set "PY="
set "BASE_PY="
set "DATA_ARGS="
set "SEND_ARGS="
set "STEP=1"
set "STEP_TITLE=Checking the platform and Python"
set "CREATING_VENV=0"
rem labkit's editable install needs no word from setuptools - its "Editable installation"
rem notice is a BuildBackendWarning box in pip's output.
set "EDITABLE_QUIET=ignore:Editable installation:UserWarning"

rem The supported Pythons are declared once, in labkit\settings.py - PYTHON_MIN, PYTHON_MAX.
set "PY_MIN="
set "PY_MAX="
for /f "tokens=3" %%v in ('findstr /b /c:"PYTHON_MIN = " "%~dp0..\labkit\settings.py" 2^>nul') do set "PY_MIN=%%~v"
for /f "tokens=3" %%v in ('findstr /b /c:"PYTHON_MAX = " "%~dp0..\labkit\settings.py" 2^>nul') do set "PY_MAX=%%~v"
if not defined PY_MIN goto :err_settings
if not defined PY_MAX goto :err_settings
for /f "tokens=2 delims=." %%m in ("%PY_MIN%") do set "PY_MIN_MINOR=%%m"
for /f "tokens=2 delims=." %%m in ("%PY_MAX%") do set "PY_MAX_MINOR=%%m"
set "SUPPORTED=%PY_MIN%-%PY_MAX%"
set "PY_CHECK=import sys; sys.exit(0 if (3, %PY_MIN_MINOR%) <= sys.version_info[:2] <= (3, %PY_MAX_MINOR%) else 1)"

rem ------------------------------------------------------------------ arguments
:parse
if "%~1"=="" goto :parsed
if /i "%~1"=="--venv" goto :opt_venv
if /i "%~1"=="--python" goto :opt_python
if /i "%~1"=="--cpu" goto :opt_cpu
if /i "%~1"=="--gpu" goto :opt_gpu
if /i "%~1"=="--metal" goto :opt_metal
if /i "%~1"=="--unlocked" goto :opt_unlocked
if /i "%~1"=="--force" goto :opt_force
if /i "%~1"=="--no-data" goto :opt_no_data
if /i "%~1"=="--offline" goto :opt_offline
if /i "%~1"=="--from" goto :opt_from
if /i "%~1"=="--help" goto :usage
if /i "%~1"=="-h" goto :usage
if /i "%~1"=="/?" goto :usage
echo environment.bat: unknown option: %1 1>&2
echo Run "Scripts\environment.bat --help" for the options. 1>&2
exit /b 2

:opt_venv
set "USE_VENV=1"
shift
goto :parse

:opt_python
if "%~2"=="" goto :err_python_arg
set "PYTHON_ARG=%~2"
set "USE_VENV=1"
shift
shift
goto :parse

:opt_cpu
rem CPU is the only choice on native Windows; accepted for the same command line as Linux.
shift
goto :parse

:opt_unlocked
set "UNLOCKED=1"
shift
goto :parse

:opt_force
set "FORCE=1"
shift
goto :parse

:opt_no_data
set "FETCH_DATA=0"
shift
goto :parse

:opt_offline
if "%~2"=="" goto :err_source_arg
if defined SOURCE goto :err_two_sources
rem The full path of the folder, made before the script changes directory
set "SOURCE=%~f2"
set "SOURCE_KIND=offline"
set "USE_VENV=1"
shift
shift
goto :parse

:opt_from
if "%~2"=="" goto :err_source_arg
if defined SOURCE goto :err_two_sources
set "SOURCE=%~2"
set "SOURCE_KIND=from"
set "USE_VENV=1"
shift
shift
goto :parse

:opt_gpu
:opt_metal
echo ERROR: %1 is not available on native Windows. 1>&2
echo        TensorFlow runs on the CPU only on native Windows since TensorFlow 2.11. 1>&2
echo        For an NVIDIA GPU, install WSL2 - https://learn.microsoft.com/windows/wsl/install - 1>&2
echo        then, inside WSL2, clone the repository and run: bash Scripts/environment.sh 1>&2
echo        Or run this script without %1 to use the CPU. 1>&2
exit /b 2

:usage
echo Usage: Scripts\environment.bat [options]
echo.
echo Creates the workshop environment, or updates it when it already exists, then
echo registers a Jupyter kernel, fetches the datasets and runs "python main.py".
echo.
echo   With conda or mamba on PATH (mamba preferred; e.g. in a Miniforge Prompt): the conda
echo   environment "dl-workshop" from environment.yml (created, or updated with --prune).
echo   Without conda, or with --venv: a virtual environment in .venv at the repo root.
echo   Either way the packages come from the lock requirements\cpu.txt: exact versions,
echo   each download checked against its PyPI hash - pip --require-hashes; then labkit
echo   itself: pip install --no-deps -e .
echo.
echo Options:
echo   --venv         Use a virtual environment in .venv even when conda is present.
echo   --python PATH  Python interpreter for the virtual environment, %SUPPORTED%. Implies --venv.
echo                  Default: the newest supported py -3.N (the py launcher), then python.
echo   --cpu          CPU TensorFlow. The default, and the only choice on native Windows.
echo   --gpu, --metal Not available on native Windows: TensorFlow runs on the CPU only
echo                  since 2.11. For an NVIDIA GPU use WSL2 and Scripts/environment.sh.
echo   --unlocked     Install the newest versions pyproject.toml allows instead of the
echo                  lock - to try newer releases, or when a locked file cannot be had.
echo   --force        Reinstall the packages even when nothing changed since the last run.
echo   --no-data      Do not fetch the datasets - python -m labkit data fetch.
echo   --offline DIR  Install from the instructor's pack in DIR - a USB stick, a share; made
echo                  by python -m labkit room pack - with no network at all: the packages,
echo                  hash-checked, and the datasets come from DIR only. Implies --venv.
echo   --from URL     The same from the instructor's server - python -m labkit room serve,
echo                  e.g. --from http://192.168.1.10:8765/CODE; then main.py sends its report there.
echo   --help         Show this help and exit.
echo.
echo Environment variables:
echo   LABKIT_DATA_DIR  Extra folder where the datasets are looked for - offline rooms.
echo.
echo Exit status: that of "python main.py" - 0 when the install works; 1 when a setup
echo step fails; 2 for a usage error.
exit /b 0

:parsed
if not defined SOURCE goto :source_checked
if "%UNLOCKED%"=="1" goto :err_unlocked_source
if "%SOURCE_KIND%"=="from" goto :check_from_url
if "%SOURCE:~-1%"=="\" set "SOURCE=%SOURCE:~0,-1%"
if not exist "%SOURCE%\manifest.json" goto :err_not_a_pack
set "DATA_ARGS=--from "%SOURCE%\data""
goto :source_checked

:check_from_url
if "%SOURCE:~-1%"=="/" set "SOURCE=%SOURCE:~0,-1%"
set "SCHEME=%SOURCE:~0,7%"
if /i "%SCHEME%"=="http://" goto :from_url_ok
set "SCHEME=%SOURCE:~0,8%"
if /i "%SCHEME%"=="https://" goto :from_url_ok
goto :err_from_url

:from_url_ok
set "DATA_ARGS=--from "%SOURCE%/data""
set "SEND_ARGS=--send "%SOURCE%""

:source_checked
cd /d "%~dp0.."
if errorlevel 1 goto :err_settings
echo ERROR: labkit\settings.py, next to the Scripts folder, is missing or names no 1>&2
echo        PYTHON_MIN and PYTHON_MAX. Run this script from a complete clone of the workshop repository. 1>&2
exit /b 1

:err_repo
if not exist pyproject.toml goto :err_settings
echo ERROR: labkit\settings.py, next to the Scripts folder, is missing or names no 1>&2
echo        PYTHON_MIN and PYTHON_MAX. Run this script from a complete clone of the workshop repository. 1>&2
exit /b 1

:err_repo
if not exist environment.yml goto :err_settings
echo ERROR: labkit\settings.py, next to the Scripts folder, is missing or names no 1>&2
echo        PYTHON_MIN and PYTHON_MAX. Run this script from a complete clone of the workshop repository. 1>&2
exit /b 1

:err_repo
set "REPO=%CD%"
set "TMPF=%TEMP%\labkit-env-%RANDOM%.txt"
set "STAMP_NEW=%TEMP%\labkit-stamp-%RANDOM%.txt"
set "PIP_DISABLE_PIP_VERSION_CHECK=1"
set "PIP_NO_INPUT=1"
set "LOG=%REPO%\.labkit-setup.log"

rem ------------------------------------------------------------------ 1. platform and Python
echo.
echo === [1/6] Checking the platform and Python
echo     Native Windows: TensorFlow runs on the CPU only - no GPU since TensorFlow 2.11.
echo     For an NVIDIA GPU use WSL2 and Scripts/environment.sh - see docs/setup.md, GPU notes.
if "%USE_VENV%"=="1" goto :venv
where mamba >nul 2>&1
if not errorlevel 1 set "CONDA_TOOL=mamba"
if defined CONDA_TOOL goto :conda
where conda >nul 2>&1
if not errorlevel 1 set "CONDA_TOOL=conda"
if defined CONDA_TOOL goto :conda
goto :venv

rem ------------------------------------------------------------------ conda environment
:conda
echo     Using %CONDA_TOOL%: conda environment "%ENV_NAME%" from environment.yml - --venv for a virtual environment.
echo.
echo === [2/6] Creating or updating the conda environment %ENV_NAME%
set "STEP=2"
set "STEP_TITLE=Creating or updating the environment"
call :open_log
set "FLAGS=mode=conda accel=cpu unlocked=%UNLOCKED%"
call %CONDA_TOOL% run -n %ENV_NAME% python -c "import sys; print(sys.executable)" > "%TMPF%" 2>nul
if errorlevel 1 goto :conda_create
for /f "usebackq delims=" %%i in ("%TMPF%") do set "PY=%%i"
if not exist "%PY%" goto :err_conda_python
rem A conda environment is found by its name, so two clones would share it, each install
rem pointing it at its own labkit: refuse to take over another clone's environment (exit 3).
"%PY%" -I -c "import importlib.util as u, pathlib, sys; s = u.find_spec('labkit'); r = pathlib.Path(s.origin).resolve().parents[1] if s and s.origin else None; sys.exit(3 if r and (r / 'pyproject.toml').is_file() and r != pathlib.Path.cwd().resolve() else 0)"
if errorlevel 3 goto :err_conda_other_clone
call :stamp_check
if errorlevel 1 goto :err_env_python
if "%UP_TO_DATE%"=="1" goto :conda_up_to_date
echo     Updating: %CONDA_TOOL% env update --prune ...
call %CONDA_TOOL% env update -n %ENV_NAME% -f environment.yml --prune >> "%LOG%" 2>&1
if errorlevel 1 goto :err_conda_update
goto :conda_ready

:conda_up_to_date
echo     Conda environment "%ENV_NAME%" is up to date - --force to update it anyway.
goto :conda_ready

:conda_create
echo     Creating: %CONDA_TOOL% env create ... - a few minutes; its output goes to .labkit-setup.log
call %CONDA_TOOL% env create -n %ENV_NAME% -f environment.yml >> "%LOG%" 2>&1
if errorlevel 1 goto :err_conda_create
call %CONDA_TOOL% run -n %ENV_NAME% python -c "import sys; print(sys.executable)" > "%TMPF%"
if errorlevel 1 goto :err_conda_python
for /f "usebackq delims=" %%i in ("%TMPF%") do set "PY=%%i"
if not exist "%PY%" goto :err_conda_python
call :stamp_check
if errorlevel 1 goto :err_env_python

:conda_ready
"%PY%" -c "%PY_CHECK%"
if errorlevel 1 goto :err_conda_version
echo     Environment python: %PY%
set "RUN="%PY%" -m labkit.install.steps --log "%LOG%" --"
echo.
echo === [3/6] Installing packages
set "STEP=3"
set "STEP_TITLE=Installing packages"
if "%UP_TO_DATE%"=="1" goto :packages_up_to_date
if exist "%STAMP%" del "%STAMP%"
goto :install_lock

rem ------------------------------------------------------------------ virtual environment
:venv
if defined PYTHON_ARG goto :venv_python_arg
for /l %%m in (%PY_MAX_MINOR%,-1,%PY_MIN_MINOR%) do (
    if not defined BASE_PY (
        py -3.%%m -c "import sys" >nul 2>&1
        if not errorlevel 1 set "BASE_PY=py -3.%%m"
    )
)
if defined BASE_PY goto :venv_found
python -c "%PY_CHECK%" >nul 2>&1
if not errorlevel 1 set "BASE_PY=python"
if defined BASE_PY goto :venv_found
goto :err_no_python

:venv_python_arg
"%PYTHON_ARG%" -c "import sys" >nul 2>&1
if errorlevel 1 goto :err_python_broken
"%PYTHON_ARG%" -c "%PY_CHECK%"
if errorlevel 1 goto :err_python_old
set "BASE_PY="%PYTHON_ARG%""

:venv_found
echo     Using a virtual environment in .venv, made with: %BASE_PY%
echo.
echo === [2/6] Creating or updating the environment
set "STEP=2"
set "STEP_TITLE=Creating or updating the environment"
call :open_log
set "FLAGS=mode=venv accel=cpu unlocked=%UNLOCKED%"
set "PY=%REPO%\.venv\Scripts\python.exe"
if not exist "%PY%" goto :venv_create
rem A .venv without pip is one whose creation was cut short: made again.
"%PY%" -c "import pip; %PY_CHECK%" >nul 2>&1
if errorlevel 1 goto :venv_recreate
echo     Reusing .venv
goto :venv_ready

:venv_recreate
echo     Recreating .venv: it is broken or has an unsupported Python.
rmdir /s /q "%REPO%\.venv"
if exist "%REPO%\.venv" goto :err_venv_remove

:venv_create
echo     Creating .venv ...
set "CREATING_VENV=1"
%BASE_PY% -m labkit.install.steps --log "%LOG%" -- %BASE_PY% -m venv "%REPO%\.venv"
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_venv_create
set "CREATING_VENV=0"

:venv_ready
set "RUN="%PY%" -m labkit.install.steps --log "%LOG%" --"
call :stamp_check
if errorlevel 1 goto :err_env_python
echo.
echo === [3/6] Installing packages
set "STEP=3"
set "STEP_TITLE=Installing packages"
if "%UP_TO_DATE%"=="1" goto :packages_up_to_date
if exist "%STAMP%" del "%STAMP%"
if defined SOURCE goto :keep_pip
echo     pip install --upgrade pip
%RUN% "%PY%" -m pip install --upgrade pip
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip
goto :install_lock

:keep_pip
echo     Keeping the pip that .venv came with - the pack has no pip to upgrade to.

rem One TensorFlow: what another build installed goes first - another TensorFlow
rem distribution installs the same files (labkit\install\locks.py).
:install_lock
"%PY%" -m labkit.install.locks conflicts cpu > "%TMPF%"
if errorlevel 1 goto :err_env_python
set "TF_REMOVE="
for /f "usebackq delims=" %%i in ("%TMPF%") do set "TF_REMOVE=%%i"
if not defined TF_REMOVE goto :lock_install
echo     pip uninstall -y %TF_REMOVE% - another build's; the lock brings its own
%RUN% "%PY%" -m pip uninstall -y %TF_REMOVE%
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip

:lock_install
if defined SOURCE goto :pack_install
if "%UNLOCKED%"=="1" goto :unlocked_install
echo     pip install --require-hashes -r requirements\cpu.txt   - the longest step
%RUN% "%PY%" -m pip install --require-hashes -r requirements\cpu.txt
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip
echo     pip install --no-deps --no-build-isolation -e .
set "PYTHONWARNINGS=%EDITABLE_QUIET%"
%RUN% "%PY%" -m pip install --no-deps --no-build-isolation -e .
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip
set "PYTHONWARNINGS="
goto :installed

:unlocked_install
echo     pip install --upgrade --upgrade-strategy eager -e ".[test]"
set "PYTHONWARNINGS=%EDITABLE_QUIET%"
%RUN% "%PY%" -m pip install --upgrade --upgrade-strategy eager -e ".[test]"
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip
set "PYTHONWARNINGS="
goto :installed

rem From the instructor's pack: this computer's hash-checked requirements, picked by
rem labkit\install\offline.py, installed with no configuration file - PIP_CONFIG_FILE=nul - no PIP_*
rem variable - --isolated - and no index: every file comes from the pack.
:pack_install
echo     Installing from the instructor's pack: %SOURCE% - no index, no internet.
"%PY%" -m labkit.install.offline requirements "%SOURCE%" cpu "%TMPF%.req"
if errorlevel 1 goto :err_pack
set "PIP_CONFIG_FILE=nul"
echo     pip install --isolated --no-index --require-hashes -r the pack's requirements for this computer
%RUN% "%PY%" -m pip install --isolated --no-index --require-hashes -r "%TMPF%.req"
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pack_pip
echo     pip install --isolated --no-index --no-deps --no-build-isolation -e .
set "PYTHONWARNINGS=%EDITABLE_QUIET%"
%RUN% "%PY%" -m pip install --isolated --no-index --no-deps --no-build-isolation -e .
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_pip
set "PYTHONWARNINGS="
set "PIP_CONFIG_FILE="
del "%TMPF%.req" >nul 2>&1
goto :installed

:packages_up_to_date
echo     Packages are up to date - --force to reinstall.

rem ------------------------------------------------------------------ common steps
:installed
copy /y "%STAMP_NEW%" "%STAMP%" >nul
if errorlevel 1 goto :err_stamp
> "%REPO%\.labkit-python" echo %PY%
if errorlevel 1 goto :err_labkit_python
echo     Wrote .labkit-python: %PY%

echo.
echo === [4/6] Registering the Jupyter kernel
set "STEP=4"
set "STEP_TITLE=Registering the Jupyter kernel"
rem In the environment - JupyterLab started from it opens the labs on it - and for the user -
rem another Jupyter, VS Code - under a name no other clone has: labkit\install\kernel.py. It also
rem turns off JupyterLab's news prompt for this environment. The name said is the one made.
%RUN% "%PY%" -m labkit kernel
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 goto :err_kernel
set "KERNEL_DISPLAY=Python (dl-workshop)"
"%PY%" -m labkit kernel --which > "%TMPF%" 2>> "%LOG%"
if errorlevel 1 goto :err_kernel
for /f "usebackq delims=" %%i in ("%TMPF%") do set "KERNEL_DISPLAY=%%i"
echo     Kernel "%KERNEL_DISPLAY%" - all the kit's kernels: "%PY%" -m labkit kernel --list

echo.
echo === [5/6] Fetching the datasets
set "STEP=5"
set "STEP_TITLE=Fetching the datasets"
rem A dataset that cannot be fetched is not fatal here: main.py below reports it as a FAIL,
rem so the attendee sees the whole report and setup still ends NOT READY - exit 1.
if "%FETCH_DATA%"=="0" goto :data_skipped
%RUN% "%PY%" -m labkit data fetch %DATA_ARGS%
if "%ERRORLEVEL%"=="130" goto :interrupted
if errorlevel 1 call :warn_data
echo     Datasets: done.
goto :check

:data_skipped
echo     Skipped - --no-data. main.py below reports any dataset that is missing.

:check
echo.
echo === [6/6] Checking the install - python main.py
set "STEP=6"
set "STEP_TITLE=Checking the install"
if not exist main.py goto :err_no_main
rem Its whole report goes to the log; the console shows its diagnosis - PASS/WARN/FAIL and fixes.
"%PY%" -m labkit.install.steps --log "%LOG%" --show-from "== Diagnosis ==" -- "%PY%" main.py %SEND_ARGS%
set "RC=%ERRORLEVEL%"
if "%RC%"=="130" goto :interrupted
del "%TMPF%" "%STAMP_NEW%" >nul 2>&1
rem main.py adds 2 to its exit status when its report could not be sent.
set "NOT_SENT="
if "%RC%"=="2" set "NOT_SENT=1"
if "%RC%"=="3" set "NOT_SENT=1"
if "%RC%"=="2" set "RC=0"
if "%RC%"=="3" set "RC=1"
if defined NOT_SENT echo WARNING: your report did not reach the instructor's page - main.py says why above. Send it again with: "%PY%" main.py --send %SOURCE% --name "Your Name" 1>&2
if not "%RC%"=="0" goto :main_failed
echo.
echo READY. Start Jupyter with:
echo     "%PY%" -m jupyter lab labs\
echo and open a lab with the kernel "%KERNEL_DISPLAY%". Run the tests with: Scripts\test.bat
echo The whole log, main.py's full report included: %LOG%
exit /b 0

:main_failed
echo.
echo The whole log, main.py's full report included: %LOG% 1>&2
echo NOT READY - main.py exit %RC%: do what each FAIL line above says after "fix:", then check again with: "%PY%" main.py 1>&2
exit /b %RC%

rem Ctrl-C: one line; what is complete stays, and the same command continues from there.
:interrupted
if "%CREATING_VENV%"=="1" rmdir /s /q "%REPO%\.venv" >nul 2>&1
>> "%LOG%" echo Interrupted at step %STEP% - %STEP_TITLE%.
echo. 1>&2
echo Interrupted at step %STEP% (%STEP_TITLE%): run the same command again to continue. 1>&2
exit /b 130

rem The log's last lines, for a command that ran without labkit\install\steps.py - conda.
:show_tail
echo     The last lines of the log - %LOG%:
powershell -NoProfile -Command "Get-Content -Tail 25 -LiteralPath $env:LOG | ForEach-Object { '    | ' + $_ }"
exit /b 0

rem The log of this run: every long command's whole output.
:open_log
> "%LOG%" echo labkit setup log: Scripts\environment.bat - %DATE% %TIME%
echo     Every command's whole output goes to .labkit-setup.log.
exit /b 0

rem ------------------------------------------------------------------ subroutines
rem Sets UP_TO_DATE=1 when the stamp next to the environment's python matches pyproject.toml
rem + environment.yml + the lock + FLAGS and labkit and TensorFlow are installed.
:stamp_check
set "UP_TO_DATE=0"
for %%i in ("%PY%") do set "STAMP=%%~dpi.labkit-stamp"
"%PY%" -c "import hashlib, sys; h = hashlib.sha256(); [h.update(open(n, 'rb').read()) for n in ('pyproject.toml', 'environment.yml', 'requirements/cpu.txt')]; h.update(sys.argv[1].encode()); print(h.hexdigest())" "%FLAGS%" > "%STAMP_NEW%"
if errorlevel 1 exit /b 1
if "%FORCE%"=="1" exit /b 0
fc /b "%STAMP_NEW%" "%STAMP%" >nul 2>&1
if errorlevel 1 exit /b 0
"%PY%" -I -c "import importlib.util as u, sys; sys.exit(0 if u.find_spec('labkit') and u.find_spec('tensorflow') else 1)" >nul 2>&1
if errorlevel 1 exit /b 0
set "UP_TO_DATE=1"
exit /b 0

:warn_data
echo WARNING: some datasets could not be fetched - the log's last lines are above; continuing to the check. 1>&2
echo          Without internet, copy the data from the instructor's USB stick or share, then run: 1>&2
echo            "%PY%" -m labkit data fetch --from D:\path\to\that\folder 1>&2
exit /b 0

rem ------------------------------------------------------------------ errors
:err_source_arg
echo environment.bat: %1 needs a value: --offline DIR - the pack's folder - or --from http://HOST:PORT 1>&2
exit /b 2

:err_two_sources
echo environment.bat: choose one of --offline and --from 1>&2
exit /b 2

:err_unlocked_source
echo environment.bat: --unlocked downloads from the internet: it cannot go with --%SOURCE_KIND% 1>&2
exit /b 2

:err_from_url
echo environment.bat: --from needs the server's address, e.g. --from http://192.168.1.10:8765/CODE 1>&2
echo Run "Scripts\environment.bat --help" for the options. 1>&2
exit /b 2

:err_not_a_pack
echo ERROR: %SOURCE% is not an instructor's pack: it has no manifest.json. 1>&2
echo        Give the folder that holds manifest.json, wheels and data - made by python -m labkit room pack. 1>&2
exit /b 1

:err_pack
del "%TMPF%.req" >nul 2>&1
echo ERROR: the pack at %SOURCE% cannot set up this computer - see the message above. 1>&2
exit /b 1

:err_pack_pip
del "%TMPF%.req" >nul 2>&1
echo ERROR: installing from the pack at %SOURCE% failed - the log's last lines are above. 1>&2
echo        The whole log: %LOG% 1>&2
echo        A hash mismatch means the pack's copy is damaged: copy it again. A missing file 1>&2
echo        means the pack lacks it: ask the instructor to run python -m labkit room pack again. 1>&2
exit /b 1

:err_python_arg
echo environment.bat: --python needs a path, e.g. --python C:\Python312\python.exe 1>&2
exit /b 2

:err_settings
echo ERROR: labkit\settings.py, next to the Scripts folder, is missing or names no 1>&2
echo        PYTHON_MIN and PYTHON_MAX. Run this script from a complete clone of the workshop repository. 1>&2
exit /b 1

:err_repo
echo ERROR: pyproject.toml or environment.yml is missing next to the Scripts folder. 1>&2
echo        Run this script from a complete clone of the workshop repository. 1>&2
exit /b 1

:err_no_python
echo ERROR: no supported Python found - the workshop needs Python %SUPPORTED%. 1>&2
call :python_hint
exit /b 1

:err_python_broken
echo ERROR: --python %PYTHON_ARG% did not run as a Python interpreter. 1>&2
echo        Pass the full path of a Python %SUPPORTED% python.exe. 1>&2
exit /b 1

:err_python_old
echo ERROR: %PYTHON_ARG% is not Python %SUPPORTED%, which the workshop needs for TensorFlow 2.21. 1>&2
call :python_hint
exit /b 1

:python_hint
echo        Install Python 3.12 - %PY_MIN% to %PY_MAX% work - then run this script again: 1>&2
echo          - the installer from https://www.python.org/downloads/windows/ 1>&2
echo          - or: winget install Python.Python.3.12 1>&2
echo          - or Miniforge, https://conda-forge.org/download/ - then use the Miniforge Prompt. 1>&2
echo        Another interpreter can be passed with --python C:\path\to\python.exe 1>&2
exit /b 0

:err_venv_remove
echo ERROR: could not delete the broken .venv folder. 1>&2
echo        Close programs that use it - Jupyter, VS Code - delete .venv by hand and run again. 1>&2
exit /b 1

:err_venv_create
if exist "%REPO%\.venv" rmdir /s /q "%REPO%\.venv" >nul 2>&1
echo ERROR: could not create the virtual environment with %BASE_PY% - the log's last lines are above. 1>&2
echo        The whole log: %LOG% 1>&2
echo        Reinstall Python from python.org, or pass another one with --python, then run again. 1>&2
exit /b 1

:err_env_python
echo ERROR: the environment's python, %PY%, does not run. 1>&2
echo        Delete the environment - the .venv folder, or: conda env remove -n %ENV_NAME% - and run again. 1>&2
exit /b 1

:err_conda_create
call :show_tail
echo ERROR: "%CONDA_TOOL% env create" failed - the log's last lines are above. 1>&2
echo        The whole log: %LOG% 1>&2
echo        Check the network; if a half-made environment is left, run 1>&2
echo        "conda env remove -n %ENV_NAME%", then run this script again. 1>&2
exit /b 1

:err_conda_update
call :show_tail
echo ERROR: "%CONDA_TOOL% env update" failed - the log's last lines are above. 1>&2
echo        The whole log: %LOG% 1>&2
echo        Check the network, or run "conda env remove -n %ENV_NAME%" and run this script again. 1>&2
exit /b 1

:err_conda_other_clone
echo ERROR: the conda environment %ENV_NAME% belongs to another clone of the workshop - its 1>&2
echo        labkit comes from there; updating it from here would take it from that clone. 1>&2
echo        For this clone use a virtual environment: Scripts\environment.bat --venv 1>&2
echo        or remove the other one first: conda env remove -n %ENV_NAME% 1>&2
exit /b 1

:err_conda_python
echo ERROR: the conda environment %ENV_NAME% has no working python. 1>&2
echo        Run "conda env remove -n %ENV_NAME%", then run this script again. 1>&2
exit /b 1

:err_conda_version
echo ERROR: the conda environment %ENV_NAME% does not have Python %SUPPORTED%. 1>&2
echo        Run "conda env remove -n %ENV_NAME%", then run this script again. 1>&2
exit /b 1

:err_pip
echo ERROR: pip failed - the log's last lines are above. The whole log: %LOG% 1>&2
echo        Check the internet connection - behind a proxy: set HTTPS_PROXY=... - 1>&2
echo        then run Scripts\environment.bat again. A hash mismatch means a download was 1>&2
echo        altered - a proxy? - or the mirror differs from PyPI. 1>&2
exit /b 1

:err_stamp
echo ERROR: could not write %STAMP%. Check the permissions of the environment folder. 1>&2
exit /b 1

:err_labkit_python
echo ERROR: could not write .labkit-python in %REPO%. Check that the folder is writable. 1>&2
exit /b 1

:err_kernel
echo ERROR: registering the Jupyter kernel failed - the log's last lines are above. 1>&2
echo        The whole log: %LOG% 1>&2
echo        Run "%PY%" -m labkit kernel, or Scripts\environment.bat --force to reinstall. 1>&2
exit /b 1

:err_no_main
echo ERROR: main.py is missing in %REPO%. Update your clone - git pull - and run again. 1>&2
exit /b 1
