/* fmt_mdgen.c - build-time tool: writes the generated files of a model's FMU (FMI 2.0 or 3.0).
 *
 * Linked with one model file, so the XML is generated from the same variable table the binary
 * serves; the GUID / instantiation token is the one compiled into the binary (fmt_token).
 *
 *   fmt_mdgen <2|3> <modelIdentifier> <FMU directory> <C source file name>...
 *
 * writes <FMU directory>/modelDescription.xml and, so that the FMU can also be rebuilt from its
 * sources/ (e.g. by FMPy on another platform), sources/fmt_token.h and, for FMI 3,
 * sources/buildDescription.xml. The named C files are listed as the sources to compile.
 *
 *   fmt_mdgen layout <header file>
 *
 * writes fmt_layout.h for the library build (see FMT_LAYOUT in fmt_instance.c): the value
 * references of the continuous states and their derivatives, and the number of event indicators,
 * as compile-time constants.
 *
 * Value references are the table indices; FMI 2 indices in ModelStructure are 1-based positions,
 * which for this table are value reference + 1.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt_instance.h"

/* SI units the models use: exponents of kg m s A K mol cd rad, and factor/offset to SI. */
typedef struct {
    const char *name;
    int kg, m, s, A, K, mol, cd, rad;
    double factor, offset;
} unit_definition;

/* Display units: display = factor * value + offset. */
typedef struct {
    const char *unit, *name;
    double factor, offset;
} display_unit;

static const unit_definition units[] = {
    {"1", 0, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    {"s", 0, 0, 1, 0, 0, 0, 0, 0, 1, 0},
    {"h", 0, 0, 1, 0, 0, 0, 0, 0, 3600, 0},
    {"1/s", 0, 0, -1, 0, 0, 0, 0, 0, 1, 0},
    {"1/h", 0, 0, -1, 0, 0, 0, 0, 0, 1.0 / 3600, 0},
    {"K", 0, 0, 0, 0, 1, 0, 0, 0, 1, 0},
    {"K/s", 0, 0, -1, 0, 1, 0, 0, 0, 1, 0},
    {"K/W", -1, -2, 3, 0, 1, 0, 0, 0, 1, 0},
    {"W", 1, 2, -3, 0, 0, 0, 0, 0, 1, 0},
    {"W/K", 1, 2, -3, 0, -1, 0, 0, 0, 1, 0},
    {"J/K", 1, 2, -2, 0, -1, 0, 0, 0, 1, 0},
    {"J/(kg.K)", 0, 2, -2, 0, -1, 0, 0, 0, 1, 0},
    {"kg", 1, 0, 0, 0, 0, 0, 0, 0, 1, 0},
    {"kg/m3", 1, -3, 0, 0, 0, 0, 0, 0, 1, 0},
    {"m", 0, 1, 0, 0, 0, 0, 0, 0, 1, 0},
    {"m/s2", 0, 1, -2, 0, 0, 0, 0, 0, 1, 0},
    {"mm/s", 0, 1, -1, 0, 0, 0, 0, 0, 1e-3, 0},
    {"m3/s", 0, 3, -1, 0, 0, 0, 0, 0, 1, 0},
    {"s2/m5", 0, -5, 2, 0, 0, 0, 0, 0, 1, 0},
    {"V", 1, 2, -3, -1, 0, 0, 0, 0, 1, 0},
    {"A", 0, 0, 0, 1, 0, 0, 0, 0, 1, 0},
    {"A/s", 0, 0, -1, 1, 0, 0, 0, 0, 1, 0},
    {"Ohm", 1, 2, -3, -2, 0, 0, 0, 0, 1, 0},
    {"H", 1, 2, -2, -2, 0, 0, 0, 0, 1, 0},
    {"rad", 0, 0, 0, 0, 0, 0, 0, 1, 1, 0},
    {"rad/s", 0, 0, -1, 0, 0, 0, 0, 1, 1, 0},
    {"rad/s2", 0, 0, -2, 0, 0, 0, 0, 1, 1, 0},
    {"N.m", 1, 2, -2, 0, 0, 0, 0, 0, 1, 0},
    {"N.m/A", 1, 2, -2, -1, 0, 0, 0, 0, 1, 0},
    {"N.m.s/rad", 1, 2, -1, 0, 0, 0, 0, -1, 1, 0},
    {"kg.m2", 1, 2, 0, 0, 0, 0, 0, 0, 1, 0},
};

static const display_unit display_units[] = {
    {"K", "degC", 1, -273.15},
    {"rad/s", "rpm", 30.0 / 3.14159265358979323846, 0},
    {"m3/s", "m3/h", 3600, 0},
    {"W", "kW", 1e-3, 0},
    {"s", "h", 1.0 / 3600, 0},
};

static const fmt_model *model = &FMT_MODEL;

static void die(const char *message, const char *detail) {
    fprintf(stderr, "fmt_mdgen (%s): %s%s\n", FMT_MODEL.name, message, detail ? detail : "");
    exit(1);
}

static const unit_definition *find_unit(const char *name) {
    for (size_t i = 0; i < sizeof units / sizeof *units; i++)
        if (strcmp(units[i].name, name) == 0) return &units[i];
    die("unknown unit (add it to the table in fmt_mdgen.c): ", name);
    return NULL;
}

static bool unit_used(const char *unit) {
    for (int i = 0; i < model->n_variables; i++)
        if (model->variables[i].unit && strcmp(model->variables[i].unit, unit) == 0) return true;
    return false;
}

static bool display_unit_used(const char *unit, const char *display) {
    for (int i = 0; i < model->n_variables; i++) {
        const fmt_variable *v = &model->variables[i];
        if (v->unit && v->display_unit && strcmp(v->unit, unit) == 0 && strcmp(v->display_unit, display) == 0)
            return true;
    }
    return false;
}

static void check_display_units(void) {
    for (int i = 0; i < model->n_variables; i++) {
        const fmt_variable *v = &model->variables[i];
        if (v->unit) find_unit(v->unit);
        if (!v->display_unit) continue;
        bool known = false;
        for (size_t k = 0; k < sizeof display_units / sizeof *display_units; k++)
            known |= v->unit && strcmp(display_units[k].unit, v->unit) == 0 &&
                     strcmp(display_units[k].name, v->display_unit) == 0;
        if (!known) die("unknown display unit (add it to the table in fmt_mdgen.c): ", v->display_unit);
    }
}

/* Writes s with XML special characters escaped. */
static void xml_text(FILE *f, const char *s) {
    for (; *s; s++) {
        switch (*s) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        default: fputc(*s, f);
        }
    }
}

static void attribute(FILE *f, const char *name, const char *value) {
    fprintf(f, " %s=\"", name);
    xml_text(f, value);
    fputc('"', f);
}

static void number(FILE *f, const char *name, double value) { fprintf(f, " %s=\"%.17g\"", name, value); }

static void unit_definitions(FILE *f) {
    fputs("  <UnitDefinitions>\n", f);
    static const char *const base_names[] = {"kg", "m", "s", "A", "K", "mol", "cd", "rad"};
    for (size_t i = 0; i < sizeof units / sizeof *units; i++) {
        const unit_definition *u = &units[i];
        if (!unit_used(u->name)) continue;
        fputs("    <Unit", f);
        attribute(f, "name", u->name);
        fputs(">\n      <BaseUnit", f);
        const int exponents[] = {u->kg, u->m, u->s, u->A, u->K, u->mol, u->cd, u->rad};
        for (int k = 0; k < 8; k++)
            if (exponents[k]) fprintf(f, " %s=\"%d\"", base_names[k], exponents[k]);
        if (u->factor != 1) number(f, "factor", u->factor);
        if (u->offset != 0) number(f, "offset", u->offset);
        fputs("/>\n", f);
        for (size_t k = 0; k < sizeof display_units / sizeof *display_units; k++) {
            const display_unit *d = &display_units[k];
            if (strcmp(d->unit, u->name) != 0 || !display_unit_used(d->unit, d->name)) continue;
            fputs("      <DisplayUnit", f);
            attribute(f, "name", d->name);
            if (d->factor != 1) number(f, "factor", d->factor);
            if (d->offset != 0) number(f, "offset", d->offset);
            fputs("/>\n", f);
        }
        fputs("    </Unit>\n", f);
    }
    fputs("  </UnitDefinitions>\n", f);
}

static void log_categories(FILE *f) {
    fputs("  <LogCategories>\n"
          "    <Category name=\"logEvents\" description=\"State events located and handled\"/>\n"
          "    <Category name=\"logStatusWarning\" description=\"Calls that returned a warning\"/>\n"
          "    <Category name=\"logStatusError\" description=\"Calls that failed, with the reason\"/>\n"
          "  </LogCategories>\n",
          f);
}

static void default_experiment(FILE *f) {
    fputs("  <DefaultExperiment", f);
    number(f, "startTime", model->start_time);
    number(f, "stopTime", model->stop_time);
    number(f, "tolerance", model->tolerance);
    number(f, "stepSize", model->step_size);
    fputs("/>\n", f);
}

static const char *causality_name(fmt_causality c) {
    static const char *const names[] = {"independent", "parameter", "calculatedParameter", "input", "output", "local"};
    return names[c];
}

static const char *variability_name(fmt_variability v) {
    static const char *const names[] = {"constant", "fixed", "tunable", "discrete", "continuous"};
    return names[v];
}

static const char *initial_name(fmt_initial i) {
    static const char *const names[] = {NULL, "exact", "approx", "calculated"};
    return names[i];
}

static bool has_start(const fmt_variable *v) {
    return v->initial == FMT_EXACT || v->initial == FMT_APPROX || v->causality == FMT_INPUT;
}

/* The attributes both versions share on the variable's type element (FMI 2) or itself (FMI 3). */
static void value_attributes(FILE *f, const fmt_variable *v) {
    if (v->unit) attribute(f, "unit", v->unit);
    if (v->display_unit) attribute(f, "displayUnit", v->display_unit);
    if (v->has_min) number(f, "min", v->min);
    if (v->has_max) number(f, "max", v->max);
    if (v->nominal > 0) number(f, "nominal", v->nominal);
    if (has_start(v)) number(f, "start", v->start);
}

static void variable_header(FILE *f, const fmt_variable *v, int index) {
    attribute(f, "name", v->name);
    fprintf(f, " valueReference=\"%d\"", index);
    if (v->description) attribute(f, "description", v->description);
    attribute(f, "causality", causality_name(v->causality));
    attribute(f, "variability", variability_name(v->variability));
    /* FMI 2.0 and 3.0 forbid `initial` on inputs (their start value is required instead). */
    if (v->causality != FMT_INPUT && initial_name(v->initial)) attribute(f, "initial", initial_name(v->initial));
}

/* `dependencies="..."` listing value references plus `offset` (1 for FMI 2 indices). */
static void dependencies(FILE *f, const fmt_variable *v, int offset) {
    if (!v->depends) return;
    fputs(" dependencies=\"", f);
    for (const int *d = v->depends; *d != FMT_END; d++) fprintf(f, "%s%d", d == v->depends ? "" : " ", *d + offset);
    fputc('"', f);
}

static bool is_derivative(const fmt_variable *v) { return v->derivative_of > 0; }

static bool is_state(int index) {
    for (int i = 0; i < model->n_variables; i++)
        if (model->variables[i].derivative_of == index) return true;
    return false;
}

/* FMI 2.0: 3.2.2 ModelStructure InitialUnknowns / FMI 3.0: 2.4.8 - what must be listed. */
static bool is_initial_unknown(int index) {
    const fmt_variable *v = &model->variables[index];
    if (v->causality == FMT_OUTPUT && (v->initial == FMT_APPROX || v->initial == FMT_CALCULATED)) return true;
    if (v->causality == FMT_CALCULATED_PARAMETER) return true;
    if (is_derivative(v)) return true;
    return is_state(index) && (v->initial == FMT_APPROX || v->initial == FMT_CALCULATED);
}

static int count_event_indicators(void) {
    int n = 0;
    for (int i = 0; i < model->n_variables; i++) n += model->variables[i].event_indicator;
    return n;
}

/* What differs between the versions up to ModelVariables. */
typedef struct {
    const char *fmi_version, *token_attribute;
    const char *root_attributes;          /* extra attributes of fmiModelDescription (may be "") */
    const char *model_exchange, *co_simulation; /* attributes after modelIdentifier */
} fmi_flavour;

static int n_sources;
static char **sources; /* C file names inside sources/ */

/* FMI 2.0 lists the source files inside ModelExchange / CoSimulation. */
static void close_interface(FILE *f, const char *element, const fmi_flavour *flavour) {
    if (strcmp(flavour->fmi_version, "2.0") != 0) {
        fputs("/>\n", f);
        return;
    }
    fputs(">\n    <SourceFiles>\n", f);
    for (int i = 0; i < n_sources; i++) {
        fputs("      <File", f);
        attribute(f, "name", sources[i]);
        fputs("/>\n", f);
    }
    fprintf(f, "    </SourceFiles>\n  </%s>\n", element);
}

/* XML declaration, root element and everything before ModelVariables. */
static void preamble(FILE *f, const char *identifier, const fmi_flavour *flavour) {
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<fmiModelDescription fmiVersion=\"%s\"",
            flavour->fmi_version);
    attribute(f, "modelName", model->name);
    attribute(f, "description", model->description);
    attribute(f, flavour->token_attribute, fmt_token);
    attribute(f, "generationTool", "fmitwin model toolkit (models/framework)");
    fprintf(f, " variableNamingConvention=\"structured\"%s>\n", flavour->root_attributes);
    fprintf(f, "  <ModelExchange modelIdentifier=\"%s\"%s", identifier, flavour->model_exchange);
    close_interface(f, "ModelExchange", flavour);
    fprintf(f, "  <CoSimulation modelIdentifier=\"%s\"%s", identifier, flavour->co_simulation);
    close_interface(f, "CoSimulation", flavour);
    unit_definitions(f);
    log_categories(f);
    default_experiment(f);
}

static void write_fmi2(FILE *f, const char *identifier) {
#define FMI2_CAPABILITIES                                                                                          \
    " canGetAndSetFMUstate=\"true\" canSerializeFMUstate=\"true\" providesDirectionalDerivative=\"true\""
    char root[64];
    snprintf(root, sizeof root, " numberOfEventIndicators=\"%d\"", count_event_indicators());
    const fmi_flavour flavour = {
        "2.0", "guid", root, " completedIntegratorStepNotNeeded=\"true\"" FMI2_CAPABILITIES,
        " canHandleVariableCommunicationStepSize=\"true\" canInterpolateInputs=\"false\""
        " maxOutputDerivativeOrder=\"0\"" FMI2_CAPABILITIES};
    preamble(f, identifier, &flavour);
    fputs("  <ModelVariables>\n", f);
    for (int i = 0; i < model->n_variables; i++) {
        const fmt_variable *v = &model->variables[i];
        fprintf(f, "    <!-- index %d -->\n    <ScalarVariable", i + 1);
        variable_header(f, v, i);
        fputs(">\n      <Real", f);
        value_attributes(f, v);
        if (is_derivative(v)) fprintf(f, " derivative=\"%d\"", v->derivative_of + 1);
        fputs("/>\n    </ScalarVariable>\n", f);
    }
    fputs("  </ModelVariables>\n  <ModelStructure>\n", f);
    static const char *const sections[] = {"Outputs", "Derivatives", "InitialUnknowns"};
    for (int section = 0; section < 3; section++) {
        bool any = false;
        for (int i = 0; i < model->n_variables; i++) {
            const fmt_variable *v = &model->variables[i];
            bool listed = section == 0   ? v->causality == FMT_OUTPUT
                          : section == 1 ? is_derivative(v)
                                         : is_initial_unknown(i);
            if (!listed) continue;
            if (!any) fprintf(f, "    <%s>\n", sections[section]);
            any = true;
            fprintf(f, "      <Unknown index=\"%d\"", i + 1);
            if (section < 2) dependencies(f, v, 1);
            fputs("/>\n", f);
        }
        if (any) fprintf(f, "    </%s>\n", sections[section]);
    }
    fputs("  </ModelStructure>\n</fmiModelDescription>\n", f);
}

static void write_fmi3(FILE *f, const char *identifier) {
#define FMI3_CAPABILITIES                                                                                          \
    " canGetAndSetFMUState=\"true\" canSerializeFMUState=\"true\" providesDirectionalDerivatives=\"true\""       \
    " providesAdjointDerivatives=\"true\""
    const fmi_flavour flavour = {
        "3.0", "instantiationToken", "", " needsCompletedIntegratorStep=\"false\"" FMI3_CAPABILITIES,
        " canHandleVariableCommunicationStepSize=\"true\" hasEventMode=\"false\""
        " maxOutputDerivativeOrder=\"0\"" FMI3_CAPABILITIES};
    preamble(f, identifier, &flavour);
    fputs("  <ModelVariables>\n", f);
    for (int i = 0; i < model->n_variables; i++) {
        const fmt_variable *v = &model->variables[i];
        fputs("    <Float64", f);
        variable_header(f, v, i);
        value_attributes(f, v);
        if (is_derivative(v)) fprintf(f, " derivative=\"%d\"", v->derivative_of);
        fputs("/>\n", f);
    }
    fputs("  </ModelVariables>\n  <ModelStructure>\n", f);
    for (int i = 0; i < model->n_variables; i++)
        if (model->variables[i].causality == FMT_OUTPUT) {
            fprintf(f, "    <Output valueReference=\"%d\"", i);
            dependencies(f, &model->variables[i], 0);
            fputs("/>\n", f);
        }
    for (int i = 0; i < model->n_variables; i++)
        if (is_derivative(&model->variables[i])) {
            fprintf(f, "    <ContinuousStateDerivative valueReference=\"%d\"", i);
            dependencies(f, &model->variables[i], 0);
            fputs("/>\n", f);
        }
    for (int i = 0; i < model->n_variables; i++)
        if (is_initial_unknown(i)) fprintf(f, "    <InitialUnknown valueReference=\"%d\"/>\n", i);
    for (int i = 0; i < model->n_variables; i++)
        if (model->variables[i].event_indicator) {
            fprintf(f, "    <EventIndicator valueReference=\"%d\"", i);
            dependencies(f, &model->variables[i], 0);
            fputs("/>\n", f);
        }
    fputs("  </ModelStructure>\n</fmiModelDescription>\n", f);
}

static FILE *create(const char *directory, const char *name) {
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", directory, name);
    FILE *f = fopen(path, "w");
    if (!f) die("cannot write ", path);
    return f;
}

static void finish(FILE *f) {
    if (fclose(f) != 0) die("cannot write a generated file", NULL);
}

static void write_build_description(FILE *f, const char *identifier) {
    fputs("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<fmiBuildDescription fmiVersion=\"3.0\">\n", f);
    fputs("  <BuildConfiguration", f);
    attribute(f, "modelIdentifier", identifier);
    fputs(">\n    <SourceFileSet language=\"C11\">\n", f);
    for (int i = 0; i < n_sources; i++) {
        fputs("      <SourceFile", f);
        attribute(f, "name", sources[i]);
        fputs("/>\n", f);
    }
    fputs("    </SourceFileSet>\n  </BuildConfiguration>\n</fmiBuildDescription>\n", f);
}

/* "1, 4, 7": the value references `pick` selects, in table order ("0" for none: C has no empty
 * arrays, and the count says there are none). */
static void write_index_list(FILE *f, int (*pick)(const fmt_variable *var, int index)) {
    int written = 0;
    for (int i = 0; i < FMT_MODEL.n_variables; i++) {
        int vr = pick(&FMT_MODEL.variables[i], i);
        if (vr >= 0) fprintf(f, "%s%d", written++ ? ", " : "", vr);
    }
    if (!written) fputs("0", f);
    fputs("\n", f);
}

static int pick_state(const fmt_variable *var, int index) {
    (void)index;
    return var->derivative_of > 0 ? var->derivative_of : -1;
}

static int pick_derivative(const fmt_variable *var, int index) { return var->derivative_of > 0 ? index : -1; }

static void write_layout(FILE *f) {
    int n_states = 0, n_event_indicators = 0;
    for (int i = 0; i < FMT_MODEL.n_variables; i++) {
        n_states += FMT_MODEL.variables[i].derivative_of > 0;
        n_event_indicators += FMT_MODEL.variables[i].event_indicator;
    }
    fprintf(f, "/* Generated by fmt_mdgen from the variable table of %s: its layout as constants. */\n",
            FMT_MODEL.name);
    fprintf(f, "#define FMT_LAYOUT_N_STATES %d\n#define FMT_LAYOUT_STATES ", n_states);
    write_index_list(f, pick_state);
    fputs("#define FMT_LAYOUT_DERIVATIVES ", f);
    write_index_list(f, pick_derivative);
    fprintf(f, "#define FMT_LAYOUT_N_EVENT_INDICATORS %d\n", n_event_indicators);
}

int main(int argc, char **argv) {
    if (argc == 3 && strcmp(argv[1], "layout") == 0) {
        FILE *f = fopen(argv[2], "w");
        if (!f) die("cannot write ", argv[2]);
        write_layout(f);
        finish(f);
        return 0;
    }
    if (argc < 5 || (strcmp(argv[1], "2") != 0 && strcmp(argv[1], "3") != 0))
        die("usage: fmt_mdgen <2|3> <modelIdentifier> <FMU directory> <C source file name>... | "
            "fmt_mdgen layout <header file>",
            NULL);
    const char *identifier = argv[2], *directory = argv[3];
    n_sources = argc - 4;
    sources = argv + 4;
    check_display_units();
    FILE *f = create(directory, "modelDescription.xml");
    if (argv[1][0] == '2')
        write_fmi2(f, identifier);
    else
        write_fmi3(f, identifier);
    finish(f);
    f = create(directory, "sources/fmt_token.h");
    fprintf(f, "/* Generated by fmt_mdgen: the GUID / instantiation token of this build. */\n#define FMT_GUID %s\n",
            fmt_token);
    finish(f);
    if (argv[1][0] == '3') {
        f = create(directory, "sources/buildDescription.xml");
        write_build_description(f, identifier);
        finish(f);
    }
    return 0;
}
